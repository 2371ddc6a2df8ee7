"""The waiter: shows the menu, takes the order (playing the client too), serves, bills, thanks."""
