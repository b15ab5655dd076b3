"""Every task generator's examples against an independent plain-Python executor of the task."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.nram import tasks


def _read_array(memory, start, end=0):
    """The array at `start`, terminated by the value `end` (NULL = 0 unless the task says otherwise)."""
    values = []
    while memory[start + len(values)] != end:
        values.append(memory[start + len(values)])
    return values


def _execute(name, memory):
    """{address: expected value} of the output cells, from running the task on the memory as a program."""
    memory = [int(v) for v in memory]
    m = len(memory)
    if name == "access":
        return {0: memory[1 + memory[0]]}
    if name == "increment":
        return {i: (v + 1) % m for i, v in enumerate(_read_array(memory, 0))}
    if name in ("copy", "reverse"):
        destination = memory[0]
        source = memory[1:destination]
        if name == "reverse":
            source = source[::-1]
        return {destination + i: v for i, v in enumerate(source)}
    if name == "swap":
        p, q = memory[0], memory[1]
        out = {2 + i: v for i, v in enumerate(_read_array(memory, 2))}
        assert p in out and q in out
        out[p], out[q] = memory[q], memory[p]
        return out
    if name == "permutation":
        a = memory[0]
        return {1 + i: memory[a + memory[1 + i]] for i in range(a - 1)}
    if name == "list_k":
        node = memory[0]
        for _ in range(memory[1]):
            node = memory[node]
            assert node != 0, "k runs past the end of the list"
        return {2: memory[node + 1]}
    if name == "list_search":
        node = memory[0]
        while memory[node + 1] != memory[1]:
            node = memory[node]
            assert node != 0, "value not on the list"
        return {2: node}
    if name == "merge":
        guardian = m - 1  # the documented guardian value ends both arrays
        first, second = _read_array(memory, memory[0], guardian), _read_array(memory, memory[1], guardian)
        assert memory[2] == memory[1] + len(second) + 1, "o is the cell after the second guardian"
        merged, i, j = [], 0, 0
        while i < len(first) or j < len(second):
            if j == len(second) or (i < len(first) and first[i] <= second[j]):
                merged.append(first[i])
                i += 1
            else:
                merged.append(second[j])
                j += 1
        return {memory[2] + k: v for k, v in enumerate(merged)}
    if name == "walk_bst":
        node, position = memory[0], 2  # root, out, then the NULL-terminated path
        while memory[position] != 0:
            node = memory[node + memory[position]]  # 1 -> left field, 2 -> right field
            position += 1
            assert node != 0, "path leaves the tree"
        return {1: memory[node]}
    raise AssertionError(name)


def _list_nodes(memory):
    nodes, node = [], int(memory[0])
    while node != 0:
        assert node not in nodes, "the list has a cycle"
        nodes.append(node)
        node = int(memory[node])
    return nodes


def _bst_keys_in_order(memory, node, seen):
    if node == 0:
        return []
    assert node not in seen, "the tree has a cycle"
    seen.add(node)
    return (
        _bst_keys_in_order(memory, int(memory[node + 1]), seen)
        + [int(memory[node])]
        + _bst_keys_in_order(memory, int(memory[node + 2]), seen)
    )


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
@pytest.mark.parametrize("memory_size", [12, 23])
def test_generator_matches_independent_executor(name, memory_size):
    task = tasks.get_task(name)
    rng = np.random.default_rng(memory_size)
    for difficulty in range(1, task.max_difficulty(memory_size) + 1):
        batch = tasks.generate(name, difficulty, memory_size, rng, count=40)
        assert batch["memory"].min() >= 0 and batch["memory"].max() < memory_size
        assert (batch["timesteps"] == task.timesteps(difficulty)).all()
        for memory, target in zip(batch["memory"], batch["target"]):
            expected = _execute(name, memory)
            scored = {int(i): int(target[i]) for i in np.flatnonzero(target >= 0)}
            assert scored == expected, (name, difficulty, memory.tolist(), target.tolist())


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
def test_generator_at_the_papers_training_complexity(name):
    """Table 1's largest training complexity in the smallest memory that holds it, against the executor."""
    task = tasks.get_task(name)
    difficulty = task.paper_difficulty
    memory_size = task.min_memory(difficulty)
    assert task.max_difficulty(memory_size) == difficulty
    batch = tasks.generate(name, difficulty, memory_size, np.random.default_rng(difficulty), count=40)
    for memory, target in zip(batch["memory"], batch["target"]):
        scored = {int(i): int(target[i]) for i in np.flatnonzero(target >= 0)}
        assert scored == _execute(name, memory), (name, memory.tolist(), target.tolist())


def test_difficulty_is_the_papers_complexity_measure():
    """Swap: len(A); Merge: len(A) + len(B); ListK: list length; WalkBST: tree size (Table 1)."""
    rng = np.random.default_rng(2)
    for memory in tasks.generate("swap", 5, 12, rng, count=20)["memory"]:
        assert len(_read_array(memory, 2)) == 5 and 2 <= memory[0] < memory[1] <= 6
    single = tasks.generate("swap", 1, 12, rng, count=5)
    assert (single["memory"][:, :2] == 2).all()  # one element: swapped with itself
    for memory in tasks.generate("merge", 5, 16, rng, count=20)["memory"]:
        lengths = len(_read_array(memory, memory[0], 15)) + len(_read_array(memory, memory[1], 15))
        assert lengths == 5 and memory[1] == memory[0] + len(_read_array(memory, memory[0], 15)) + 1
    for memory in tasks.generate("list_k", 4, 16, rng, count=20)["memory"]:
        assert len(_list_nodes(memory)) == 4
    for memory in tasks.generate("walk_bst", 3, 16, rng, count=20)["memory"]:
        assert len(_bst_keys_in_order(memory, int(memory[0]), set())) == 3


@pytest.mark.parametrize("name", ["list_k", "list_search"])
def test_lists_have_the_difficulty_as_length_and_vary_their_layout(name):
    rng = np.random.default_rng(0)
    batch = tasks.generate(name, 4, 16, rng, count=200)
    starts = set()
    for memory in batch["memory"]:
        nodes = _list_nodes(memory)
        assert len(nodes) == 4
        cells = [c for n in nodes for c in (n, n + 1)]
        assert len(set(cells)) == 8 and min(cells) >= 3 and max(cells) < 16
        starts.add(nodes[0])
    # Random placement: the head is not always at the same address, and odd and even addresses both occur.
    assert len(starts) > 5 and {s % 2 for s in starts} == {0, 1}


def test_walk_bst_is_a_binary_search_tree_of_n_nodes():
    rng = np.random.default_rng(1)
    batch = tasks.generate("walk_bst", 4, 20, rng, count=100)
    for memory in batch["memory"]:
        keys = _bst_keys_in_order(memory, int(memory[0]), set())
        assert len(keys) == 4 and keys == sorted(keys) and len(set(keys)) == 4


def test_same_seed_same_examples_and_other_seed_differs():
    first = tasks.generate("list_k", 3, 12, np.random.default_rng(5), count=8)
    again = tasks.generate("list_k", 3, 12, np.random.default_rng(5), count=8)
    other = tasks.generate("list_k", 3, 12, np.random.default_rng(6), count=8)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["memory"], other["memory"])


def test_bad_arguments_name_the_accepted_range():
    with pytest.raises(ValueError, match=r"difficulty .* must be in \[1, 4\]"):
        tasks.generate("list_k", 5, 12, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Known tasks: access"):
        tasks.get_task("sort")
