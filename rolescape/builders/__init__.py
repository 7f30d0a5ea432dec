"""Turn the raw RoleScape-20 release (or a user's own character in its layout) into a built dataset."""
