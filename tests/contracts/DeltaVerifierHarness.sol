// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title The DeltaVerifier's acceptance rules, for Hokusai's tests (no token is minted).
/// @notice Recomputes the MintRequest EIP-712 digest from the type strings, recovers the attesters
/// with OpenZeppelin's ECDSA (65-byte, low-s signatures only), and enforces what the real contract
/// enforces: strictly ascending signers, all registered, at least `threshold` of them; scores at
/// most 10000 bps; weights summing to exactly 10000; 1..100 contributors, no zero or duplicate
/// address; a non-zero idempotency key never used before; `block.timestamp <= deadline`; the
/// baseline commitment equal to the model's lineage head; a non-zero candidate commitment, which
/// becomes the new head.
contract DeltaVerifierHarness is EIP712 {
    struct BenchmarkAnchors {
        bytes32 benchmarkSpecHash;
        bytes32 datasetHash;
        bytes32 attestationHash;
        bytes32 idempotencyKey;
        string metricName;
        string metricFamily;
    }

    struct MintRequestPayload {
        string pipelineRunId;
        uint256 baselineScoreBps;
        uint256 candidateScoreBps;
        uint256 maxCostUsdMicro;
        uint256 actualCostUsdMicro;
        uint256 totalSamples;
        BenchmarkAnchors anchors;
        bytes32 baselineCommitment;
        bytes32 candidateCommitment;
        uint256 deadline;
    }

    struct Contributor {
        address walletAddress;
        uint256 weight;
    }

    // The encodeType strings of the issue; a struct's type string is followed by the types it
    // references, sorted by name (EIP-712).
    string private constant MINT_TYPE =
        "MintRequest(uint256 modelId,MintRequestPayload payload,Contributor[] contributors)";
    string private constant PAYLOAD_TYPE =
        "MintRequestPayload(string pipelineRunId,uint256 baselineScoreBps,uint256 candidateScoreBps,"
        "uint256 maxCostUsdMicro,uint256 actualCostUsdMicro,uint256 totalSamples,BenchmarkAnchors anchors,"
        "bytes32 baselineCommitment,bytes32 candidateCommitment,uint256 deadline)";
    string private constant ANCHORS_TYPE =
        "BenchmarkAnchors(bytes32 benchmarkSpecHash,bytes32 datasetHash,bytes32 attestationHash,"
        "bytes32 idempotencyKey,string metricName,string metricFamily)";
    string private constant CONTRIBUTOR_TYPE = "Contributor(address walletAddress,uint256 weight)";

    bytes32 public constant MINT_TYPEHASH =
        keccak256(abi.encodePacked(MINT_TYPE, ANCHORS_TYPE, CONTRIBUTOR_TYPE, PAYLOAD_TYPE));
    bytes32 public constant PAYLOAD_TYPEHASH = keccak256(abi.encodePacked(PAYLOAD_TYPE, ANCHORS_TYPE));
    bytes32 public constant ANCHORS_TYPEHASH = keccak256(bytes(ANCHORS_TYPE));
    bytes32 public constant CONTRIBUTOR_TYPEHASH = keccak256(bytes(CONTRIBUTOR_TYPE));

    uint256 public constant MAX_BPS = 10_000;
    uint256 public constant MAX_CONTRIBUTORS = 100;

    address public immutable owner;
    uint256 public immutable threshold;
    mapping(address => bool) public isAttester;
    mapping(uint256 => bytes32) public head;
    mapping(bytes32 => bool) public idempotencyKeyUsed;

    event MintAccepted(uint256 indexed modelId, bytes32 indexed idempotencyKey, bytes32 newHead);

    error NotOwner();
    error GenesisAlreadySet(uint256 modelId);
    error ScoreAboveMax(uint256 score);
    error ContributorCount(uint256 count);
    error BadContributor(address wallet);
    error WeightsNotExact(uint256 sum);
    error ZeroIdempotencyKey();
    error IdempotencyKeyUsed(bytes32 key);
    error DeadlinePassed(uint256 deadline, uint256 timestamp);
    error StaleBaseline(bytes32 head, bytes32 baseline);
    error ZeroCandidate();
    error TooFewSignatures(uint256 count, uint256 threshold);
    error SignersNotAscending(address previous, address signer);
    error NotAttester(address signer);

    constructor(address[] memory attesters, uint256 threshold_) EIP712("HokusaiDeltaVerifier", "1") {
        owner = msg.sender;
        threshold = threshold_;
        for (uint256 i = 0; i < attesters.length; i++) {
            isAttester[attesters[i]] = true;
        }
    }

    /// The owner sets a model's genesis head once (the registered baseline's commitment).
    function setGenesis(uint256 modelId, bytes32 commitment) external {
        if (msg.sender != owner) revert NotOwner();
        if (head[modelId] != bytes32(0)) revert GenesisAlreadySet(modelId);
        head[modelId] = commitment;
    }

    function mintRequestDigest(
        uint256 modelId,
        MintRequestPayload calldata payload,
        Contributor[] calldata contributors
    ) public view returns (bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(MINT_TYPEHASH, modelId, _hashPayload(payload), _hashContributors(contributors)));
        return _hashTypedDataV4(structHash);
    }

    function submitMintRequest(
        uint256 modelId,
        MintRequestPayload calldata payload,
        Contributor[] calldata contributors,
        bytes[] calldata attesterSignatures
    ) external {
        _checkFields(modelId, payload, contributors);
        bytes32 digest = mintRequestDigest(modelId, payload, contributors);
        if (attesterSignatures.length < threshold) revert TooFewSignatures(attesterSignatures.length, threshold);
        address previous = address(0);
        for (uint256 i = 0; i < attesterSignatures.length; i++) {
            address signer = ECDSA.recover(digest, attesterSignatures[i]);
            if (signer <= previous) revert SignersNotAscending(previous, signer);
            if (!isAttester[signer]) revert NotAttester(signer);
            previous = signer;
        }
        idempotencyKeyUsed[payload.anchors.idempotencyKey] = true;
        head[modelId] = payload.candidateCommitment;
        emit MintAccepted(modelId, payload.anchors.idempotencyKey, payload.candidateCommitment);
    }

    function _checkFields(
        uint256 modelId,
        MintRequestPayload calldata payload,
        Contributor[] calldata contributors
    ) private view {
        if (payload.baselineScoreBps > MAX_BPS) revert ScoreAboveMax(payload.baselineScoreBps);
        if (payload.candidateScoreBps > MAX_BPS) revert ScoreAboveMax(payload.candidateScoreBps);
        if (contributors.length == 0 || contributors.length > MAX_CONTRIBUTORS) {
            revert ContributorCount(contributors.length);
        }
        uint256 sum = 0;
        for (uint256 i = 0; i < contributors.length; i++) {
            address wallet = contributors[i].walletAddress;
            if (wallet == address(0)) revert BadContributor(wallet);
            for (uint256 j = 0; j < i; j++) {
                if (contributors[j].walletAddress == wallet) revert BadContributor(wallet);
            }
            sum += contributors[i].weight;
        }
        if (sum != MAX_BPS) revert WeightsNotExact(sum);
        bytes32 key = payload.anchors.idempotencyKey;
        if (key == bytes32(0)) revert ZeroIdempotencyKey();
        if (idempotencyKeyUsed[key]) revert IdempotencyKeyUsed(key);
        if (block.timestamp > payload.deadline) revert DeadlinePassed(payload.deadline, block.timestamp);
        if (payload.baselineCommitment != head[modelId]) revert StaleBaseline(head[modelId], payload.baselineCommitment);
        if (payload.candidateCommitment == bytes32(0)) revert ZeroCandidate();
    }

    function _hashPayload(MintRequestPayload calldata p) private pure returns (bytes32) {
        // Two static halves, packed: the same bytes as one abi.encode of the eleven words.
        bytes memory first = abi.encode(
            PAYLOAD_TYPEHASH,
            keccak256(bytes(p.pipelineRunId)),
            p.baselineScoreBps,
            p.candidateScoreBps,
            p.maxCostUsdMicro,
            p.actualCostUsdMicro
        );
        bytes memory second = abi.encode(
            p.totalSamples, _hashAnchors(p.anchors), p.baselineCommitment, p.candidateCommitment, p.deadline
        );
        return keccak256(bytes.concat(first, second));
    }

    function _hashAnchors(BenchmarkAnchors calldata a) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ANCHORS_TYPEHASH,
                a.benchmarkSpecHash,
                a.datasetHash,
                a.attestationHash,
                a.idempotencyKey,
                keccak256(bytes(a.metricName)),
                keccak256(bytes(a.metricFamily))
            )
        );
    }

    function _hashContributors(Contributor[] calldata contributors) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](contributors.length);
        for (uint256 i = 0; i < contributors.length; i++) {
            hashes[i] = keccak256(abi.encode(CONTRIBUTOR_TYPEHASH, contributors[i].walletAddress, contributors[i].weight));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
