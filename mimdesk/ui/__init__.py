"""The Qt user interface: console, dialogs, themes. Only this package imports Qt."""
