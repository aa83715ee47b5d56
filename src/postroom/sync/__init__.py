"""The IMAP sync engine: pure planning (``plan``) and the engines that carry plans out
(``folder``: one folder on one connection; ``account``: one account's folders, IDLE and
reconcile; ``supervisor``: every account, around the clock)."""
