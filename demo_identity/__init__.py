"""Who the demo is: the identity the app and the WeChat simulator share.

Both read this module and nothing else of each other: the simulator imports nothing from the app.
The credentials are never valid on WeChat.
"""

DEMO_MERCHANT_SLUG = "demo"

# Credentials the demo and the tests share with the WeChat simulator; never valid on WeChat.
DEMO_WECHAT = {
    "WECHAT_TOKEN": "fenxiao-demo-token",
    "WECHAT_APPID": "wxf3n51a0d3m0a99id",
    "WECHAT_APPSECRET": "fenxiao-demo-appsecret-0000000000",
    "WECHAT_PAY_MCH_ID": "1900000109",
    "WECHAT_PAY_API_KEY": "fenxiaodemopaykey000000000000000",
}

# WeChat Pay APIv3's platform public key id in the demo: the simulator signs under it, the app
# expects it in Wechatpay-Serial (the key pair itself is made at run time, never committed).
DEMO_PAY_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026FENXIAODEMO"

# The demo account's template for service notices (WECHAT_TEMPLATE_ID in demo and test mode):
# the simulator lists it among the account's templates, with its fields' labels.
DEMO_NOTICE_TEMPLATE_ID = "fenxiao-demo-notice"

PEOPLE = {  # openid: nickname
    "o-demo-xiaomei": "小美",
    "o-demo-aqiang": "阿强",
    "o-demo-lili": "丽丽",
    "o-demo-xiaowang": "小王",
    "o-demo-shopper1": "张阿姨",
    "o-demo-shopper2": "陈先生",
    "o-demo-shopper3": "林同学",
    "o-demo-shopper4": "赵女士",
}
