"""The transparency log's Merkle tree: RFC 6962 section 2.1 hashing and proofs. Framework-free.

Generation follows the recursive definitions of RFC 6962 (MTH, PATH, PROOF) over a list of leaf
hashes the caller loads; each call is O(n). Verification follows the algorithms of RFC 9162
sections 2.1.3.2 and 2.1.4.2 and never raises on hostile input: a proof either verifies or not.
"""

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# SECURITY: distinct prefixes for leaves and interior nodes (RFC 6962 section 2.1) stop an
# interior node from being presented as a leaf (second-preimage attack).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of the whole list; SHA-256 of nothing for an empty tree."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def prefix_roots(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The root of every prefix of the log: element k-1 is the root of the first k leaves.

    O(n log n) in all, for checking every stored checkpoint against the leaves in one pass.
    """
    # The perfect subtrees covering the prefix so far, largest first, as (leaf count, hash).
    # Folding them from the right gives MTH, because RFC 6962 splits at the largest power of
    # two, which is exactly this binary decomposition.
    stack: list[tuple[int, bytes]] = []
    roots = []
    for leaf in leaf_hashes:
        stack.append((1, leaf))
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            (size, right), (_, left) = stack.pop(), stack.pop()
            stack.append((size * 2, node_hash(left, right)))
        result = stack[-1][1]
        for _, left in reversed(stack[:-1]):
            result = node_hash(left, result)
        roots.append(result)
    return roots


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]): the audit path from leaf `index` up to the root, nearest first."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    proof: list[bytes] = []
    _path(index, leaf_hashes, 0, size, proof)
    return proof


def consistency_proof(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[n]): shows the tree of the first `first` leaves is a prefix of this one.

    Empty when `first` is 0 or the whole tree (nothing to prove).
    """
    size = len(leaf_hashes)
    if not 0 <= first <= size:
        raise ValueError(f"tree size {first} is outside 0..{size}")
    proof: list[bytes] = []
    if 0 < first < size:
        _subproof(first, leaf_hashes, 0, size, True, proof)
    return proof


def verify_inclusion(
    index: int,
    tree_size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
) -> bool:
    """True when `proof` shows `leaf_hash` at `index` in the tree of `tree_size` with `root`."""
    if not 0 <= index < tree_size or not _well_formed(leaf_hash, root, *proof):
        return False
    fn, sn, result = index, tree_size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """True when `proof` shows the tree (`first`, `first_root`) is a prefix of the tree
    (`second`, `second_root`), i.e. the log was only appended to in between."""
    if not 0 <= first <= second or not _well_formed(first_root, second_root, *proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        # A power-of-two first tree is a complete subtree of the second: the proof leaves
        # out its root because the verifier already has it.
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_result = second_result = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first_result = node_hash(node, first_result)
            second_result = node_hash(node, second_result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second_result = node_hash(second_result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first_result == first_root and second_result == second_root


def _well_formed(*hashes: object) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def _subtree_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaves[start]
    mid = start + _split(end - start)
    return node_hash(_subtree_root(leaves, start, mid), _subtree_root(leaves, mid, end))


def _path(
    index: int, leaves: Sequence[bytes], start: int, end: int, out: list[bytes]
) -> None:
    if end - start <= 1:
        return
    mid = start + _split(end - start)
    if index < mid:
        _path(index, leaves, start, mid, out)
        out.append(_subtree_root(leaves, mid, end))
    else:
        _path(index, leaves, mid, end, out)
        out.append(_subtree_root(leaves, start, mid))


def _subproof(
    first: int,
    leaves: Sequence[bytes],
    start: int,
    end: int,
    whole_first_tree: bool,
    out: list[bytes],
) -> None:
    # `first` counts leaves from `start`; `whole_first_tree` is RFC 6962's flag b: true while
    # the subtree is still the original first tree, whose root the verifier already holds.
    if first == end - start:
        if not whole_first_tree:
            out.append(_subtree_root(leaves, start, end))
        return
    mid = start + _split(end - start)
    if first <= mid - start:
        _subproof(first, leaves, start, mid, whole_first_tree, out)
        out.append(_subtree_root(leaves, mid, end))
    else:
        _subproof(first - (mid - start), leaves, mid, end, False, out)
        out.append(_subtree_root(leaves, start, mid))
