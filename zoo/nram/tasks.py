"""The NRAM paper's algorithmic tasks as numpy generators over an M-cell memory of integers in {0..M-1}.

Kurach, Andrychowicz & Sutskever 2015 (arXiv 1511.06392), section 4.2 and appendix A (the memory layouts). Every
task writes its input into the memory tape at fixed places (its "memory layout"), and the answer is read from
fixed output cells after the machine stops. Pointer value 0 is NULL (the paper's array terminator and missing
list/tree link): address 0 always holds a header field, never a node.

Each generator fills one example: `memory` (the initial tape, length M) and `target` (the expected final value
of every scored cell, -1 for cells that are not scored; the paper scores only the cells that should hold the
output). `difficulty` is the paper's complexity measure of the task (Table 1: array length, list length,
len(A) + len(B), tree size); `timesteps(difficulty)` is how many steps the machine gets for it (our choice: the
paper gives no step budgets).

Layouts (addresses in brackets; "trash" = random values that a correct program never looks at). All of them
follow appendix A except where marked "ours" (the paper leaves it open or is self-contradictory there):
    access:       [0]=k, [1..n]=A, [n+1]=0.                         Output [0] = A[k].
    increment:    [0..n-1]=A, [n]=0.                                Output [i] = A[i] + 1 for i < n.
    copy:         [0]=p=n+1, [1..n]=A.                              Output [p+i] = A[i].
    reverse:      [0]=p=n+1, [1..n]=A.                              Output [p+i] = A[n-1-i].
    swap:         [0]=p, [1]=q, [2..n+1]=A, [n+2]=0; p <= q are addresses inside A (p = q only for n = 1).
                  Output A with cells [p] and [q] swapped.
    permutation:  [0]=a=n+1, [1..n]=P (a permutation of 0..n-1), [a..a+n-1]=A.  Output [1+i] = A[P[i]]
                  (overwrites P).
    list_k:       [0]=head, [1]=k, [2]=out; nodes [next, value] at random places (ours: trash elsewhere, as the
                  paper states for list_search). Output [2] = value of the node k hops from the head.
    list_search:  [0]=head, [1]=v, [2]=out; nodes as list_k, trash elsewhere.  Output [2] = address of the
                  first node whose value is v.
    merge:        [0]=a, [1]=b, [2]=o; sorted A at a, then the guardian G; sorted B at b, then G; o is the cell
                  after the second G; n = len(A) + len(B). G = M-1 and elements in [1, M-2] (ours: the paper
                  names a special guardian value but not which). Output [o+i] = i-th merged element.
    walk_bst:     [0]=root, [1]=out, path [2..], NULL-terminated; BST nodes [value, left, right] at random
                  places (0 = no child), trash elsewhere (ours). Output [1] = value of the node the path ends
                  at. Steps are 1 = left, 2 = right (ours: the paper writes them as 0/1 but also ends the path
                  with NULL = 0, which would make a left step and the end of the path the same value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

UNSCORED = -1


@dataclasses.dataclass(frozen=True)
class Task:
    """One algorithmic task.

    Args:
        name: registry name (the `task` data argument).
        fill: fill(rng, difficulty, memory, target) writes one example in place (arrays of length M).
        timesteps: difficulty -> number of machine steps allowed.
        min_memory: difficulty -> the smallest memory size M that holds an example.
        paper_difficulty: the largest training complexity of the task in the paper's Table 1 (the paper's
            curriculum ends there); not used by the generator, recorded so configs and docs can cite it.
    """

    name: str
    fill: Callable[[np.random.Generator, int, np.ndarray, np.ndarray], None]
    timesteps: Callable[[int], int]
    min_memory: Callable[[int], int]
    paper_difficulty: int

    def max_difficulty(self, memory_size: int) -> int:
        """The largest difficulty whose examples fit into `memory_size` cells (0 if none fits)."""
        difficulty = 0
        while self.min_memory(difficulty + 1) <= memory_size:
            difficulty += 1
        return difficulty


def _values(rng: np.random.Generator, count: int, memory_size: int, low: int = 1, high: int | None = None):
    # Array contents avoid 0 because 0 terminates arrays and marks NULL pointers.
    high = memory_size if high is None else high
    return rng.integers(low, high, size=count)


def _fill_access(rng, n, memory, target):
    m = memory.size
    array = _values(rng, n, m)
    k = int(rng.integers(0, n))
    memory[0] = k
    memory[1 : n + 1] = array
    target[0] = array[k]


def _fill_increment(rng, n, memory, target):
    m = memory.size
    array = _values(rng, n, m, high=m - 1)
    memory[:n] = array
    target[:n] = (array + 1) % m


def _fill_copy(rng, n, memory, target, reverse=False):
    m = memory.size
    array = _values(rng, n, m)
    destination = n + 1
    memory[0] = destination
    memory[1 : n + 1] = array
    target[destination : destination + n] = array[::-1] if reverse else array


def _fill_swap(rng, n, memory, target):
    m = memory.size
    array = _values(rng, n, m)
    # The difficulty is len(A), the paper's complexity measure for Swap; an array of one element can only be
    # swapped with itself, so p = q there and the expected output is the input.
    if n == 1:
        p = q = 2
    else:
        p, q = sorted(int(a) for a in rng.choice(np.arange(2, n + 2), size=2, replace=False))
    memory[0], memory[1] = p, q
    memory[2 : n + 2] = array
    target[2 : n + 2] = array
    target[p], target[q] = memory[q], memory[p]


def _fill_permutation(rng, n, memory, target):
    m = memory.size
    permutation = rng.permutation(n)
    array = _values(rng, n, m)
    start = n + 1
    memory[0] = start
    memory[1 : n + 1] = permutation
    memory[start : start + n] = array
    target[1 : n + 1] = array[permutation]


def _place_blocks(rng, count: int, block: int, first: int, memory_size: int) -> list[int]:
    """Start addresses of `count` non-overlapping blocks of `block` cells at random places in [first, M).

    A random interleaving of the blocks with the left-over single cells makes every placement possible, not
    only aligned ones, so that a program cannot find nodes by their address parity.
    """
    free = memory_size - first - block * count
    if free < 0:
        raise ValueError(f"{count} blocks of {block} cells do not fit between {first} and {memory_size}.")
    is_block = np.array([True] * count + [False] * free)[rng.permutation(count + free)]
    starts, address = [], first
    for block_here in is_block:
        if block_here:
            starts.append(address)
        address += block if block_here else 1
    # Blocks are placed in address order; a random order decouples list order from memory order.
    order = rng.permutation(count)
    return [starts[i] for i in order]


def _linked_list(rng, n, memory):
    """Writes a list of n [next, value] nodes at random places after the 3 header cells; trash elsewhere."""
    m = memory.size
    memory[3:] = rng.integers(0, m, size=m - 3)
    nodes = _place_blocks(rng, n, 2, 3, m)
    values = _values(rng, n, m)
    for i, address in enumerate(nodes):
        memory[address] = nodes[i + 1] if i + 1 < n else 0
        memory[address + 1] = values[i]
    memory[0] = nodes[0]
    return nodes, values


def _fill_list_k(rng, n, memory, target):
    nodes, values = _linked_list(rng, n, memory)
    k = int(rng.integers(0, n))
    memory[1] = k
    memory[2] = 0
    target[2] = values[k]


def _fill_list_search(rng, n, memory, target):
    nodes, values = _linked_list(rng, n, memory)
    v = int(values[rng.integers(0, n)])
    memory[1] = v
    memory[2] = 0
    target[2] = nodes[int(np.flatnonzero(values == v)[0])]


def merge_guardian(memory_size: int) -> int:
    """The guardian value G that ends both input arrays of `merge`: M-1, above every element.

    The paper's appendix A ends the arrays with "a special guardian value" without saying which; the largest
    value makes the guardian special (no element takes it) and lets a merge compare against it like +infinity.
    """
    return memory_size - 1


def _fill_merge(rng, n, memory, target):
    m = memory.size
    guardian = merge_guardian(m)
    length_a = int(rng.integers(0, n + 1))
    length_b = n - length_a
    first = np.sort(_values(rng, length_a, m, high=guardian))
    second = np.sort(_values(rng, length_b, m, high=guardian))
    a = 3
    b = a + length_a + 1
    o = b + length_b + 1
    memory[0], memory[1], memory[2] = a, b, o
    memory[a : a + length_a] = first
    memory[a + length_a] = guardian
    memory[b : b + length_b] = second
    memory[b + length_b] = guardian
    target[o : o + n] = np.sort(np.concatenate([first, second]), kind="stable")


def _fill_walk_bst(rng, n, memory, target):
    m = memory.size
    keys = rng.choice(np.arange(1, m), size=n, replace=False)
    left = [0] * n
    right = [0] * n
    depth = [0] * n
    for i in range(1, n):
        node = 0
        while True:
            children = left if keys[i] < keys[node] else right
            if children[node] == 0:
                children[node] = i
                depth[i] = depth[node] + 1
                break
            node = children[node]
    # The walk ends at a uniformly chosen node; its path from the root is the input.
    end = int(rng.integers(0, n))
    path = []
    node = end
    while node != 0:
        parent = next(j for j in range(n) if left[j] == node or right[j] == node)
        path.append(1 if left[parent] == node else 2)
        node = parent
    path.reverse()
    path_start = 2  # appendix A: root, out, then the path
    nodes_start = path_start + n  # room for the longest path (n - 1 moves) and its NULL terminator
    memory[nodes_start:] = rng.integers(0, m, size=m - nodes_start)
    addresses = _place_blocks(rng, n, 3, nodes_start, m)
    for i in range(n):
        a = addresses[i]
        memory[a] = keys[i]
        memory[a + 1] = addresses[left[i]] if left[i] else 0
        memory[a + 2] = addresses[right[i]] if right[i] else 0
    memory[path_start : path_start + len(path)] = path
    memory[path_start + len(path) : nodes_start] = 0
    memory[0], memory[1] = addresses[0], 0
    target[1] = keys[end]


# Step budgets are ours (the paper gives none): enough for the obvious program with a step or two to spare.
# The last argument is the paper's largest training complexity (Table 1).
TASKS: dict[str, Task] = {
    "access": Task("access", _fill_access, lambda n: 3, lambda n: n + 2, 20),
    "increment": Task("increment", _fill_increment, lambda n: n + 2, lambda n: n + 1, 15),
    "copy": Task("copy", _fill_copy, lambda n: n + 2, lambda n: 2 * n + 1, 15),
    "reverse": Task(
        "reverse",
        lambda rng, n, mem, tgt: _fill_copy(rng, n, mem, tgt, reverse=True),
        lambda n: n + 2,
        lambda n: 2 * n + 1,
        15,
    ),
    "swap": Task("swap", _fill_swap, lambda n: 6, lambda n: n + 3, 20),
    "permutation": Task("permutation", _fill_permutation, lambda n: 2 * n + 2, lambda n: 2 * n + 1, 6),
    "list_k": Task("list_k", _fill_list_k, lambda n: n + 3, lambda n: 2 * n + 3, 10),
    "list_search": Task("list_search", _fill_list_search, lambda n: n + 3, lambda n: 2 * n + 3, 6),
    "merge": Task("merge", _fill_merge, lambda n: 3 * n + 3, lambda n: 2 * n + 5, 10),
    "walk_bst": Task("walk_bst", _fill_walk_bst, lambda n: 2 * n + 2, lambda n: 4 * n + 2, 10),
}


def get_task(name: str) -> Task:
    """The task registered under `name`; ValueError listing the known tasks otherwise."""
    if name not in TASKS:
        raise ValueError(f"Unknown NRAM task {name!r}. Known tasks: {', '.join(sorted(TASKS))}.")
    return TASKS[name]


def generate(
    task: str | Task,
    difficulties: np.ndarray | int,
    memory_size: int,
    rng: np.random.Generator,
    count: int = 1,
) -> dict[str, np.ndarray]:
    """A batch of examples.

    Args:
        task: a task name (`TASKS`) or a Task.
        difficulties: one difficulty for all examples, or one per example (length `count`).
        memory_size: M, the number of cells and of integer values.
        rng: the numpy generator every random choice is drawn from (the batch is a function of its state).
        count: number of examples.

    Returns:
        {"memory": int32 (count, M), "timesteps": int32 (count,), "target": int32 (count, M) with -1 for
        unscored cells, "difficulty": int32 (count,)}.
    """
    task = get_task(task) if isinstance(task, str) else task
    difficulties = np.broadcast_to(np.asarray(difficulties, dtype=np.int64), (count,))
    limit = task.max_difficulty(memory_size)
    bad = difficulties[(difficulties < 1) | (difficulties > limit)]
    if bad.size:
        raise ValueError(
            f"difficulty for task {task.name!r} with memory_size={memory_size} must be in [1, {limit}]; "
            f"got {int(bad[0])}."
        )
    memory = np.zeros((count, memory_size), dtype=np.int32)
    target = np.full((count, memory_size), UNSCORED, dtype=np.int32)
    for i in range(count):
        task.fill(rng, int(difficulties[i]), memory[i], target[i])
    timesteps = np.array([task.timesteps(int(d)) for d in difficulties], dtype=np.int32)
    return {
        "memory": memory,
        "timesteps": timesteps,
        "target": target,
        "difficulty": difficulties.astype(np.int32),
    }
