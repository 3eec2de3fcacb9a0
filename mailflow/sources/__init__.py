"""Where mail comes from: an IMAP folder or a local Maildir."""
