"""Attribution laws: every call counts on its context and on each of its ancestors, exactly
once, whatever the nesting and however the work is spread over asyncio tasks and threads."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiusage_core import UsageTotals, merge_metadata
from pytest_aiusage.strategies import (
    Concurrency,
    ContextTree,
    TreeRun,
    context_trees,
    expected_totals,
    run_tree,
)

MODES: list[Concurrency] = ["sequential", "asyncio", "threads"]
ENVIRONMENT = {"environment": "test", "ci": False}


def check_totals(run: TreeRun) -> None:
    for node in run.walk():
        own_and_children = sum(
            (child.context.totals for child in node.children), UsageTotals.of(node.records)
        )
        assert node.context.totals == own_and_children
        assert node.context.totals == expected_totals(node.tree)


@pytest.mark.parametrize("concurrency", MODES)
@given(tree=context_trees())
def test_a_parents_totals_are_its_own_calls_plus_its_childrens_totals(
    concurrency: Concurrency, tree: ContextTree
) -> None:
    check_totals(run_tree(tree, concurrency=concurrency))


def check_record_order(run: TreeRun) -> None:
    for node in run.walk():
        ids = [r.record_id for r in node.context.records]
        assert len(ids) == len(set(ids))
        assert sorted(ids) == sorted(r.record_id for r in node.subtree_records)
        # Each part (own calls, each child) keeps its own order inside the parent's list.
        for part in (node.records, *(child.context.records for child in node.children)):
            part_ids = [r.record_id for r in part]
            assert [i for i in ids if i in set(part_ids)] == part_ids


@pytest.mark.parametrize("concurrency", ["asyncio", "threads"])
@given(
    tree=context_trees(max_depth=4, max_children=2, max_calls=2),
    interleaving=st.randoms(use_true_random=False),
)
def test_totals_and_record_order_hold_for_any_interleaving_of_tasks_and_threads(
    concurrency: Concurrency, tree: ContextTree, interleaving: random.Random
) -> None:
    run = run_tree(tree, concurrency=concurrency, interleaving=interleaving)
    check_totals(run)
    check_record_order(run)


@given(tree=context_trees())
def test_a_contexts_records_are_its_descendants_records_in_order(tree: ContextTree) -> None:
    run = run_tree(tree)
    check_record_order(run)
    for node in run.walk():
        assert node.context.records == list(node.subtree_records)


@given(tree=context_trees())
def test_records_made_in_threads_carry_their_contexts_path_and_merged_metadata(
    tree: ContextTree,
) -> None:
    run = run_tree(tree, concurrency="threads")

    def visit(node: TreeRun, path: tuple[str, ...], metadata: dict[str, object]) -> None:
        path = (*path, node.tree.operation_type)
        metadata = merge_metadata(metadata, node.tree.metadata)
        assert node.context.path == path
        assert merge_metadata(node.context.metadata, {}) == _frozen(metadata)
        for record in node.records:
            assert record.context_path == path
            assert record.metadata == node.context.metadata
        for child in node.children:
            assert child.context.parent is node.context
            visit(child, path, metadata)

    visit(run, (), dict(ENVIRONMENT))


def _frozen(value: object) -> object:
    # Context metadata is read-only: lists become tuples.
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
