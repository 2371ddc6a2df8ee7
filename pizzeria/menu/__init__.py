"""The menu: answers GetMenu with the pizzas on offer and their prices."""
