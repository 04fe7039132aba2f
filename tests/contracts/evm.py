"""The contracts of the EVM tests: compiled by solcjs (npm ``solc``), deployed on an in-process EVM.

``compile_contract`` runs ``node compile.js`` once per process (standard JSON in, out): the npm
``solc`` package carries its compiler as ``soljson.js``, so nothing is downloaded at run time;
``npm ci`` in this folder installs it (``.ci/run`` does). ``Chain`` is eth-tester with py-evm: real
EVM execution, no network. A revert comes back as ``Reverted`` naming the contract's custom error.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

HERE = Path(__file__).resolve().parent
SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
GAS = 8_000_000


def missing_toolchain() -> str | None:
    """Why the contracts cannot be compiled here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (Debian: apt-get install nodejs npm)"
    if not (HERE / "node_modules" / "solc" / "soljson.js").is_file():
        return f"the npm solc package is not installed: run `npm ci` in {HERE}"
    return None


@dataclass(frozen=True)
class Compiled:
    abi: list[dict[str, Any]]
    bytecode: str
    solc: str


@cache
def compile_contract(source: str, name: str) -> Compiled:
    """Compile ``tests/contracts/<source>`` and return contract ``name`` (cached for the process)."""
    request = {
        "language": "Solidity",
        "sources": {source: {"content": (HERE / source).read_text()}},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {source: {name: ["abi", "evm.bytecode.object"]}},
        },
    }
    done = subprocess.run(
        ["node", str(HERE / "compile.js")], input=json.dumps(request), capture_output=True, text=True,
        cwd=HERE, timeout=300, check=True,
    )  # fmt: skip
    answer = json.loads(done.stdout)
    output = answer["output"]
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("solc: " + "\n".join(errors))
    contract = output["contracts"][source][name]
    if not answer["version"].startswith(SOLC_VERSION + "+"):
        raise RuntimeError(f"solc {answer['version']} is installed, package.json pins {SOLC_VERSION}")
    return Compiled(contract["abi"], "0x" + contract["evm"]["bytecode"]["object"], answer["version"])


class Reverted(Exception):
    """A call the contract reverted, with its custom error's name and arguments."""

    def __init__(self, error: str, args: tuple[Any, ...]) -> None:
        super().__init__(f"{error}{args}")
        self.error, self.arguments = error, args


def _signature(item: dict[str, Any]) -> str:
    def kind(p: dict[str, Any]) -> str:
        if p["type"].startswith("tuple"):
            return "(" + ",".join(kind(c) for c in p["components"]) + ")" + p["type"][5:]
        return p["type"]

    return f"{item['name']}({','.join(kind(p) for p in item['inputs'])})"


class Contract:
    """A deployed contract: ``call`` (read) and ``transact`` (state change) by ABI function name."""

    def __init__(self, chain: Chain, address: str, compiled: Compiled) -> None:
        self.chain, self.address, self.compiled = chain, address, compiled
        self.errors = {
            function_signature_to_4byte_selector(_signature(e)): e
            for e in compiled.abi
            if e["type"] == "error"
        }

    def _function(self, name: str) -> dict[str, Any]:
        return next(f for f in self.compiled.abi if f.get("type") == "function" and f["name"] == name)

    def encode_call(self, name: str, *args: Any) -> str:
        function = self._function(name)
        types = _signature(function)[len(name) + 1 : -1]
        data = function_signature_to_4byte_selector(_signature(function)) + encode(_split(types), list(args))
        return "0x" + data.hex()

    def call(self, name: str, *args: Any) -> Any:
        function = self._function(name)
        raw = self.chain.call(self.address, self.encode_call(name, *args), self)
        outputs = [_signature({"name": "", "inputs": [o]})[1:-1] for o in function["outputs"]]
        values = decode(outputs, raw)
        return values[0] if len(values) == 1 else values

    def transact(self, data: str, sender: str | None = None) -> dict[str, Any]:
        """Send raw calldata (e.g. a mint request's ``submitCalldata``); the receipt, or ``Reverted``."""
        return self.chain.transact(self.address, data, self, sender)

    def decode_revert(self, data: bytes) -> Reverted:
        error = self.errors.get(data[:4])
        if error is None:
            return Reverted("unknown:0x" + data.hex(), ())
        types = _signature(error)[len(error["name"]) + 1 : -1]
        return Reverted(error["name"], tuple(decode(_split(types), data[4:])))


def _split(types: str) -> list[str]:
    """Top-level comma split of an ABI type list (tuples kept whole)."""
    parts, depth, current = [], 0, ""
    for char in types:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if current else parts


def _revert_data(exc: Exception) -> bytes:
    value = exc.args[0] if exc.args else b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.startswith(("b'", 'b"')):
        return ast.literal_eval(value)
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    return b""


class Chain:
    """An in-process Ethereum (eth-tester + py-evm): accounts with ether, instant blocks."""

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend

        self.tester = EthereumTester(PyEVMBackend())
        self.accounts = self.tester.get_accounts()
        self.chain_id = int(self.tester.backend.chain.chain_id)  # what block.chainid answers

    def deploy(self, compiled: Compiled, types: list[str], args: list[Any]) -> Contract:
        data = compiled.bytecode + encode(types, args).hex()
        tx = self.tester.send_transaction({"from": self.accounts[0], "data": data, "gas": GAS})
        receipt = self.tester.get_transaction_receipt(tx)
        assert receipt["status"] == 1, "deployment failed"
        return Contract(self, receipt["contract_address"], compiled)

    def call(self, to: str, data: str, contract: Contract, sender: str | None = None) -> bytes:
        from eth_tester.exceptions import TransactionFailed

        try:
            answer = self.tester.call(
                {"from": sender or self.accounts[0], "to": to, "data": data, "gas": GAS}
            )
        except TransactionFailed as exc:
            raise contract.decode_revert(_revert_data(exc)) from None
        return bytes.fromhex(answer.removeprefix("0x"))

    def transact(self, to: str, data: str, contract: Contract, sender: str | None = None) -> dict[str, Any]:
        self.call(to, data, contract, sender)  # a revert is raised with its reason, and nothing is mined
        tx = {"from": sender or self.accounts[0], "to": to, "data": data, "gas": GAS}
        receipt = self.tester.get_transaction_receipt(self.tester.send_transaction(tx))
        assert receipt["status"] == 1, receipt
        return receipt

    def timestamp(self) -> int:
        return int(self.tester.get_block_by_number("pending")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        self.tester.time_travel(timestamp)


def event_topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()
