"""Applications built on the public API of `pizzeria.messaging` alone, to show it is a library."""
