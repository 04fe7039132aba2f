"""Tree models checked from a skops file before anything is built from it.

scikit-learn's ``sklearn.tree._tree.Tree`` (DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting*)
and HistGradientBoosting's ``TreePredictor`` walk raw node indices without bounds checks: a file with
``left_child = 50000000`` loads, and its first ``predict`` reads or writes outside the node array
(SIGSEGV). skops therefore does not trust these types by default; we do (they are what tree models are
made of) on condition that every tree in the file passes ``check_trees``, which reads the schema and the
node arrays (``numpy.load`` without pickles) and never builds an object:

* ``sklearn.tree._tree.Tree``: ``n_outputs`` ≥ 1 and every ``n_classes`` ≥ 1; ``nodes`` has scikit-learn's
  node dtype and ``node_count`` ≥ 1 entries; ``values`` has shape ``(node_count, n_outputs,
  max(n_classes))``; a leaf has both children -1; any other node has children after itself and inside
  the array (``i < child < node_count``: how scikit-learn builds trees, so no cycles), a feature index
  in ``[0, width)`` and a threshold that is not NaN (+inf is legitimate: scikit-learn uses it for a split
  that sends only missing values right); ``max_depth`` at least the tree's depth (``decision_path``
  sizes its output by it).
* ``TreePredictor``: the same for ``left``/``right``/``feature_idx``/``num_threshold`` of non-leaf nodes;
  a categorical split's ``bitset_idx`` inside both bitset arrays and on a feature its estimator's bin
  mapper marks categorical.
* A node skops loads with its ``TreeNode`` loader is a ``Tree`` whatever its ``__class__`` says (the
  loader's constructor is fixed), and is checked as one.
* ``width`` is the number of columns the tree indexes: the smallest of the tree's own ``n_features``, the
  ``n_features_in_`` of the estimator holding it and of any tree ensemble above it (forests and gradient
  boosting hand their input to their trees without checking it again).
* GradientBoosting's ``estimators_`` has ``n_trees_per_iteration_`` columns (its prediction writes one
  column per tree into an array of that width).
* skops loads a node whose ``__id__`` it has seen before as the object built the first time. So that the
  object checked is the object built, nodes that share an ``__id__`` must be identical (but for the ids
  of the temporary dicts inside them).

A bad tree is refused with ``model_tree_invalid`` (422) naming the estimator, the tree and the node.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from hokusai.bounds import InflateBudget, iter_zip_member, read_zip_member
from hokusai.errors import InvalidData, InvalidInput

TREE = ("sklearn.tree._tree", "Tree")
PREDICTOR = ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor")
_ENSEMBLE_MODULES = (  # ensembles that call their trees without checking the input again
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
    "sklearn.ensemble._iforest",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting",
)
_GB_MODULE = "sklearn.ensemble._gb"

Node = dict[str, Any]
ArrayReader = Callable[[str], np.ndarray]


class TreeInvalid(InvalidData):
    """A tree whose node arrays a prediction would read outside of (422 ``model_tree_invalid``)."""

    code = "model_tree_invalid"

    def __init__(self, where: str, what: str, node: int | None = None) -> None:
        at = f" node {node}:" if node is not None else ""
        super().__init__(
            f"the model's tree {where} is invalid:{at} {what}",
            details={"tree": where, "node": node, "reason": what},
        )


def check_trees(schema: Node, archive: zipfile.ZipFile, budget: InflateBudget) -> int:
    """Check every tree of a skops file (its ``schema.json`` parsed, its archive open); the number of
    trees checked. Arrays are read under ``budget``."""
    _check_shared_ids(schema, archive, budget)
    cache: dict[str, np.ndarray] = {}

    def read(name: str) -> np.ndarray:
        if name not in cache:
            data = read_zip_member(archive, name, budget)
            try:
                cache[name] = np.load(io.BytesIO(data), allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise InvalidInput(
                    f"the array {name} cannot be read ({exc})", code="bad_model_file"
                ) from None
        return cache[name]

    checked = 0
    for node, ancestors, path in _objects(schema):
        key = (str(node.get("__module__")), str(node.get("__class__")))
        if key == TREE or node.get("__loader__") == "TreeNode":  # skops builds a Tree whatever it is called
            _check_tree(node, ancestors, path, read)
            checked += 1
        elif key == PREDICTOR:
            _check_predictor(node, ancestors, path, read)
            checked += 1
        elif key[0] == _GB_MODULE and "estimators_" in _attrs(node):
            _check_gb_stages(node, path)
    cache.clear()
    return checked


def _check_shared_ids(schema: Node, archive: zipfile.ZipFile, budget: InflateBudget) -> None:
    """Nodes that share an ``__id__`` must be identical but for ids and array file names, arrays compared
    by content (skops builds the first such node and reuses it; the state dicts and arrays it saves for
    one object twice are fresh temporaries with new ids). By induction every object skops builds then has
    the shape and arrays of each node it stands for, and each of those nodes is checked where it is."""
    seen: dict[Any, str] = {}
    files: dict[str, str] = {}

    def file_digest(name: str) -> str:
        if name not in files:
            digest = hashlib.sha256()
            for chunk in iter_zip_member(archive, name, budget):
                digest.update(chunk)
            files[name] = digest.hexdigest()
        return files[name]

    def digest(value: Any) -> str:
        if isinstance(value, dict):
            parts = [
                json.dumps(key)
                + ":"
                + (file_digest(item) if key == "file" and isinstance(item, str) else digest(item))
                for key, item in sorted(value.items())
                if key != "__id__"
            ]
            hashed = hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()
            if "__id__" in value and seen.setdefault(value["__id__"], hashed) != hashed:
                raise InvalidInput(
                    f"the model file gives the id {value['__id__']} to two different objects",
                    code="bad_model_file",
                )
            return hashed
        if isinstance(value, list):
            return hashlib.sha256(("[" + ",".join(digest(item) for item in value) + "]").encode()).hexdigest()
        return json.dumps(value)

    digest(schema)


def _objects(schema: Node) -> Iterator[tuple[Node, tuple[Node, ...], str]]:
    """Every node carrying a class, with the object nodes above it and its path in the schema."""
    stack: list[tuple[Any, tuple[Node, ...], str]] = [(schema, (), "")]
    while stack:
        value, ancestors, path = stack.pop()
        if isinstance(value, dict):
            if "__class__" in value:
                yield value, ancestors, path
                if value.get("__loader__") == "ObjectNode":
                    ancestors = (*ancestors, value)
            stack.extend((item, ancestors, f"{path}/{key}") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, ancestors, f"{path}/{index}") for index, item in enumerate(value))


def _attrs(node: Node) -> dict[str, Any]:
    content = node.get("content")
    inner = content.get("content") if isinstance(content, dict) else None
    return inner if isinstance(inner, dict) else {}


def _json_value(node: Any) -> Any:
    if isinstance(node, dict) and node.get("__loader__") == "JsonNode":
        try:
            return json.loads(node["content"]) if node.get("is_json") else node.get("content")
        except (ValueError, TypeError):
            return None
    return None


def _int(node: Any) -> int | None:
    value = _json_value(node)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _array(node: Any, read: ArrayReader, where: str, name: str) -> np.ndarray:
    if not (
        isinstance(node, dict) and node.get("__loader__") == "NdArrayNode" and node.get("type") == "numpy"
    ):
        raise TreeInvalid(where, f"{name} is not a numeric array")
    return read(str(node.get("file")))


def _label(ancestors: tuple[Node, ...], path: str) -> str:
    owner = next((a for a in reversed(ancestors) if a.get("__class__") not in (None, "TreePredictor")), None)
    name = f"{owner.get('__class__')}" if owner else "model"
    return f"{path or '/'} (in {name})"


def _width(ancestors: tuple[Node, ...], own: int | None) -> int | None:
    """Columns a tree may index: its own count, its estimator's and any tree ensemble's above it."""
    widths = [own] if own is not None else []
    holder = next((a for a in reversed(ancestors) if "n_features_in_" in _attrs(a)), None)
    for ancestor in ancestors:
        if ancestor is holder or str(ancestor.get("__module__")).startswith(_ENSEMBLE_MODULES):
            width = _int(_attrs(ancestor).get("n_features_in_"))
            if width is not None:
                widths.append(width)
    return min(widths) if widths else None


def _check_children(
    where: str, leaf: np.ndarray, left: np.ndarray, right: np.ndarray, feature: np.ndarray,
    threshold: np.ndarray, width: int,
) -> None:  # fmt: skip
    count = len(left)
    index = np.arange(count)
    inner = ~leaf
    problems = [
        (leaf & ((left != -1) | (right != -1)), "a leaf whose children are not -1"),
        (inner & ((left <= index) | (left >= count)), "a left child out of range (or not after its parent)"),
        (
            inner & ((right <= index) | (right >= count)),
            "a right child out of range (or not after its parent)",
        ),
        (inner & ((feature < 0) | (feature >= width)), f"a feature index outside 0..{width - 1}"),
        (inner & np.isnan(threshold), "a NaN threshold"),
    ]
    for mask, what in problems:
        bad = np.flatnonzero(mask)
        if bad.size:
            node = int(bad[0])
            values = f"left={int(left[node])}, right={int(right[node])}, feature={int(feature[node])}"
            raise TreeInvalid(where, f"{what} ({values})", node)


def _check_tree(node: Node, ancestors: tuple[Node, ...], path: str, read: ArrayReader) -> None:
    from sklearn.tree._tree import NODE_DTYPE

    where = _label(ancestors, path)
    try:
        args = node["__reduce__"]["args"]["content"]
        n_features, n_classes_node, n_outputs = _int(args[0]), args[1], _int(args[2])
    except (KeyError, IndexError, TypeError):
        raise TreeInvalid(where, "its constructor arguments are missing") from None
    state = _attrs(node)
    node_count = _int(state.get("node_count"))
    n_classes = _array(n_classes_node, read, where, "n_classes")
    if n_features is None or n_features < 1 or n_outputs is None or n_outputs < 1:
        raise TreeInvalid(where, "n_features and n_outputs must be positive integers")
    if n_classes.shape != (n_outputs,) or n_classes.dtype.kind not in "iu" or (n_classes < 1).any():
        raise TreeInvalid(where, f"n_classes must be {n_outputs} positive integers")
    nodes = _array(state.get("nodes"), read, where, "nodes")
    values = _array(state.get("values"), read, where, "values")
    if node_count is None or node_count < 1 or nodes.dtype != NODE_DTYPE or nodes.shape != (node_count,):
        raise TreeInvalid(where, f"the node array is not {node_count} nodes of scikit-learn's node type")
    expected = (node_count, n_outputs, int(n_classes.max()))
    if values.shape != expected or values.dtype != np.float64:
        raise TreeInvalid(where, f"the value array has shape {values.shape}, not {expected}")
    width = _width(ancestors, n_features)
    assert width is not None
    left, right = nodes["left_child"], nodes["right_child"]
    _check_children(where, left == -1, left, right, nodes["feature"], nodes["threshold"], width)
    max_depth, depth = _int(state.get("max_depth")), _depth(left, right)
    if max_depth is None or depth > max_depth:
        raise TreeInvalid(where, f"max_depth {max_depth} is less than the tree's depth {depth}")


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Levels below the root (children already checked to be later nodes, so the walk ends)."""
    frontier, depth = np.array([0]), -1
    while frontier.size:
        depth += 1
        inner = frontier[left[frontier] != -1]
        frontier = np.concatenate((left[inner], right[inner]))
    return depth


def _check_predictor(node: Node, ancestors: tuple[Node, ...], path: str, read: ArrayReader) -> None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    where = _label(ancestors, path)
    state = _attrs(node)
    nodes = _array(state.get("nodes"), read, where, "nodes")
    if nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or len(nodes) < 1:
        raise TreeInvalid(where, "the node array is not one or more nodes of scikit-learn's predictor type")
    width = _width(ancestors, None)
    if width is None:
        raise TreeInvalid(where, "no estimator above it says how many features it reads")
    leaf = nodes["is_leaf"] != 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    feature = nodes["feature_idx"].astype(np.int64)
    _check_children(where, leaf, np.where(leaf, -1, left), np.where(leaf, -1, right), feature,
                    nodes["num_threshold"], width)  # fmt: skip
    categorical = np.flatnonzero(~leaf & (nodes["is_categorical"] != 0))
    if categorical.size:
        names = ("binned_left_cat_bitsets", "raw_left_cat_bitsets")
        bitsets = [_array(state.get(name), read, where, name) for name in names]
        rows = min(len(b) if b.ndim == 2 and b.shape[1] == 8 and b.dtype == np.uint32 else 0 for b in bitsets)
        marked = _categorical_features(ancestors, read, where)
        for index in categorical:
            bitset, column = int(nodes["bitset_idx"][index]), int(feature[index])
            if bitset >= rows:
                raise TreeInvalid(where, f"a categorical split's bitset {bitset} is outside 0..{rows - 1}",
                                  int(index))  # fmt: skip
            if column >= len(marked) or not marked[column]:
                raise TreeInvalid(where, f"a categorical split on feature {column}, which is not categorical",
                                  int(index))  # fmt: skip


def _categorical_features(ancestors: tuple[Node, ...], read: ArrayReader, where: str) -> np.ndarray:
    """``is_categorical_`` of the bin mapper of the HistGradientBoosting estimator above a predictor."""
    for ancestor in reversed(ancestors):
        mapper = _attrs(ancestor).get("_bin_mapper")
        if isinstance(mapper, dict):
            marked = _attrs(mapper).get("is_categorical_")
            if isinstance(marked, dict) and marked.get("__loader__") == "NdArrayNode":
                return _array(marked, read, where, "is_categorical_").astype(bool).ravel()
            break
    return np.zeros(0, dtype=bool)


def _check_gb_stages(node: Node, path: str) -> None:
    attrs = _attrs(node)
    per_iteration = _int(attrs.get("n_trees_per_iteration_"))
    stages: dict[str, Any] = attrs.get("estimators_") or {}
    rows = stages.get("content") if isinstance(stages, dict) else None
    where = f"{path or '/'} ({node.get('__class__')})"
    if per_iteration is None or not isinstance(rows, list):
        raise TreeInvalid(where, "estimators_ is not a table of trees with n_trees_per_iteration_ columns")
    try:
        shape = [_int(item) for item in stages["shape"]["content"]]
    except (KeyError, TypeError):
        shape = []
    widths = {len(row.get("content", [])) if isinstance(row, dict) else -1 for row in rows}
    if shape != [len(rows), per_iteration] or widths - {per_iteration}:
        raise TreeInvalid(where, f"estimators_ must have {per_iteration} trees per stage (shape {shape})")
