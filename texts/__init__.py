"""The message catalogue: every text a person reads from the bot, zh_CN first, English beside."""
