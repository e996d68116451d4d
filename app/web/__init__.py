"""The marketers' web pages."""
