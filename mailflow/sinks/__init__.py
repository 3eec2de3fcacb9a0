"""Where mail goes: SMTP, the owner's Drafts folder, a mail to the owner, or a folder of files."""
