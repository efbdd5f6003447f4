"""The gateway to WeChat: the official-account API client, outbound messages, web OAuth, payouts."""
