"""The live side: the feed of committed changes, who else is online, and the health figures."""
