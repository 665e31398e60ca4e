"""Guest posts: find sites that publish guest-post guidelines (service) and `discover guest-posts` (cli)."""
