import hashlib

import pytest

from portal.lib import merkle

# The RFC 6962 test vectors shared by the Certificate Transparency implementations
# (google/certificate-transparency, transparency-dev/merkle): eight leaf inputs, the roots of
# the trees of their first 1..8 leaves, and published audit paths and consistency proofs.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
LEAF_HASHES = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    )
]


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


# (leaf index, tree size, audit path)
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            _h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            _h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [_h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            _h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (first size, second size, consistency proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            _h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            _h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            _h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            _h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            _h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]


def _leaf_hashes(count: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(count)]


def test_leaf_hashes_match_rfc6962_vectors():
    assert [merkle.leaf_hash(data) for data in LEAVES] == LEAF_HASHES


def test_empty_tree_root_is_sha256_of_nothing():
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_rfc6962_vectors(size):
    assert merkle.root(LEAF_HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_proofs_match_rfc6962_vectors(index, size, path):
    assert merkle.inclusion_proof(index, LEAF_HASHES[:size]) == path
    assert merkle.verify_inclusion(
        index, size, LEAF_HASHES[index], path, ROOTS[size - 1]
    )


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proofs_match_rfc6962_vectors(first, second, proof):
    assert merkle.consistency_proof(first, LEAF_HASHES[:second]) == proof
    assert merkle.verify_consistency(
        first, second, ROOTS[first - 1], ROOTS[second - 1], proof
    )


def _flip(proof: list[bytes], position: int) -> list[bytes]:
    changed = list(proof)
    changed[position] = bytes([changed[position][0] ^ 0x08]) + changed[position][1:]
    return changed


@pytest.mark.parametrize("size", [*range(1, 34), 64, 65, 100, 127, 128, 129])
def test_every_inclusion_proof_verifies_and_every_corruption_fails(size):
    leaves = _leaf_hashes(size)
    tree_root = merkle.root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert merkle.verify_inclusion(index, size, leaves[index], proof, tree_root)

        other_leaf = merkle.leaf_hash(b"not in the log")
        assert not merkle.verify_inclusion(index, size, other_leaf, proof, tree_root)
        assert not merkle.verify_inclusion(index, size, leaves[index], proof, bytes(32))
        for wrong_index in {index - 1, index + 1, index ^ 2} - {index}:
            assert not merkle.verify_inclusion(
                wrong_index, size, leaves[index], proof, tree_root
            )
        # A size with the same tree shape above the leaf yields the same path, so only sizes
        # that change the height are wrong for certain (as in the CT test suites).
        for wrong_size in {size * 2, size // 2} - {size}:
            assert not merkle.verify_inclusion(
                index, wrong_size, leaves[index], proof, tree_root
            ), (index, size, wrong_size)
        for position in range(len(proof)):
            assert not merkle.verify_inclusion(
                index, size, leaves[index], _flip(proof, position), tree_root
            )
        assert not merkle.verify_inclusion(
            index, size, leaves[index], [*proof, tree_root], tree_root
        )
        if proof:
            assert not merkle.verify_inclusion(
                index, size, leaves[index], proof[:-1], tree_root
            )


@pytest.mark.parametrize("second", [*range(1, 34), 64, 65, 100, 128, 129])
def test_every_consistency_proof_verifies_and_every_corruption_fails(second):
    leaves = _leaf_hashes(second)
    second_root = merkle.root(leaves)
    for first in range(1, second + 1):
        first_root = merkle.root(leaves[:first])
        proof = merkle.consistency_proof(first, leaves)
        assert merkle.verify_consistency(first, second, first_root, second_root, proof)
        if first == second:
            assert proof == []
            continue

        assert not merkle.verify_consistency(
            first, second, second_root, first_root, proof
        )
        assert not merkle.verify_consistency(
            first, second, first_root, bytes(32), proof
        )
        assert not merkle.verify_consistency(
            first, second, bytes(32), second_root, proof
        )
        assert not merkle.verify_consistency(first, second, first_root, second_root, [])
        for wrong_first in {first - 1, first + 1, first ^ 2} - {first, 0}:
            if wrong_first <= second:
                assert not merkle.verify_consistency(
                    wrong_first, second, first_root, second_root, proof
                ), (first, second, wrong_first)
        for wrong_second in {second * 2, second // 2} - {second}:
            if wrong_second >= first:
                assert not merkle.verify_consistency(
                    first, wrong_second, first_root, second_root, proof
                ), (first, second, wrong_second)
        for position in range(len(proof)):
            assert not merkle.verify_consistency(
                first, second, first_root, second_root, _flip(proof, position)
            )
        assert not merkle.verify_consistency(
            first, second, first_root, second_root, [*proof, second_root]
        )
        assert not merkle.verify_consistency(
            first, second, first_root, second_root, proof[:-1]
        )


def test_a_rewritten_entry_breaks_consistency_with_the_earlier_tree():
    leaves = _leaf_hashes(20)
    first_root = merkle.root(leaves[:7])
    rewritten = list(leaves)
    rewritten[3] = merkle.leaf_hash(b"a quietly edited notice")
    proof = merkle.consistency_proof(7, rewritten)
    assert not merkle.verify_consistency(
        7, 20, first_root, merkle.root(rewritten), proof
    )


def test_empty_first_tree_is_consistent_with_any_tree_only_with_an_empty_proof():
    leaves = _leaf_hashes(5)
    assert merkle.consistency_proof(0, leaves) == []
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, merkle.root(leaves), [])
    assert not merkle.verify_consistency(
        0, 5, merkle.EMPTY_ROOT, merkle.root(leaves), [merkle.root(leaves)]
    )
    assert not merkle.verify_consistency(0, 5, bytes(32), merkle.root(leaves), [])


def test_a_tree_is_not_consistent_with_a_smaller_one():
    leaves = _leaf_hashes(6)
    assert not merkle.verify_consistency(
        6, 5, merkle.root(leaves), merkle.root(leaves[:5]), []
    )


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (-1, 4), (4, 4), (0, -1)])
def test_inclusion_outside_the_tree_never_verifies(index, size):
    leaf = merkle.leaf_hash(b"x")
    assert not merkle.verify_inclusion(index, size, leaf, [], leaf)


def test_hashes_of_the_wrong_length_never_verify():
    leaves = _leaf_hashes(4)
    proof = merkle.inclusion_proof(1, leaves)
    tree_root = merkle.root(leaves)
    assert not merkle.verify_inclusion(1, 4, leaves[1][:31], proof, tree_root)
    assert not merkle.verify_inclusion(1, 4, leaves[1], [*proof[:-1], b""], tree_root)
    assert not merkle.verify_inclusion(1, 4, leaves[1], proof, "not bytes")


def test_proof_requests_outside_the_tree_are_refused():
    leaves = _leaf_hashes(3)
    with pytest.raises(ValueError, match="outside a tree of 3"):
        merkle.inclusion_proof(3, leaves)
    with pytest.raises(ValueError, match="outside 0..3"):
        merkle.consistency_proof(4, leaves)


def test_prefix_roots_match_the_rfc6962_vectors():
    assert merkle.prefix_roots(LEAF_HASHES) == ROOTS
    assert merkle.prefix_roots([]) == []


def test_prefix_roots_match_root_of_every_prefix():
    leaves = _leaf_hashes(300)
    roots = merkle.prefix_roots(leaves)
    assert roots == [merkle.root(leaves[:size]) for size in range(1, 301)]
