"""Modal questions over a screen: yes or no, a reason, a count, where else to go, what to undo."""
