"""The waiter playing the client: what it orders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pizzeria.waiter.domain import CannotOrder, choose_order
from pizzeria.waiter.messages import MenuItem, OrderLine

MENU = (MenuItem("margherita", 850), MenuItem("diavola", 1000), MenuItem("marinara", 700))


@given(st.text(min_size=1))
def test_the_waiter_chooses_from_the_menu_and_the_same_visit_always_gets_the_same_choice(seed):
    order = choose_order(MENU, None, seed)
    assert order == choose_order(MENU, None, seed)
    assert 1 <= len(order) <= 3
    assert {line.pizza for line in order} <= {item.name for item in MENU}


def test_a_wish_made_of_pizzas_on_the_menu_is_ordered_as_it_is():
    wish = (OrderLine("diavola", 2), OrderLine("margherita", 1))
    assert choose_order(MENU, wish, "seed") == wish


@pytest.mark.parametrize("wish, reason", [
    ((), "the order is empty"),
    ((OrderLine("margherita", 1), OrderLine("hawaii", 1)), "not on the menu: hawaii"),
])
def test_a_wish_that_cannot_be_ordered_says_why(wish, reason):
    with pytest.raises(CannotOrder, match=reason):
        choose_order(MENU, wish, "seed")
