"""The deployment: the pre-deploy check, boot, and supervising Litestream and the app."""
