"""The floor: the screen, the actions on the selected table, and its command palette entries."""
