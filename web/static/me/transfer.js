// The confirm page of a 商家转账 withdrawal (web/templates/me/withdrawal.html), as WeChat's
// 「JSAPI调起用户确认收款」 asks: wx.config with the page's JS-SDK signature listing
// requestMerchantTransfer, then in wx.ready wx.checkJsApi, then
// WeixinJSBridge.invoke("requestMerchantTransfer", {mchId, appId, package}), which WeChat shows
// to the user. The button stays disabled until the config is verified.
(function () {
  "use strict";
  var button = document.getElementById("confirm-transfer");
  if (!button) { return; }
  var API = "requestMerchantTransfer";
  function data(name) { return button.getAttribute("data-" + name); }
  function note(message) {
    var line = document.getElementById("transfer-note");
    if (line) { line.textContent = message; }
  }
  function answered(errMsg) {
    if (String(errMsg || "").slice(-3) === ":ok") {
      window.location.reload();
    } else {
      note(data("failed"));
    }
  }
  if (!window.wx || typeof window.wx.config !== "function") {
    note(data("no-bridge"));
    return;
  }
  window.wx.config({
    debug: false,
    appId: data("config-appid"),
    timestamp: data("config-timestamp"),
    nonceStr: data("config-noncestr"),
    signature: data("config-signature"),
    jsApiList: [API]
  });
  window.wx.error(function () { note(data("denied")); });
  window.wx.ready(function () {
    window.wx.checkJsApi({
      jsApiList: [API],
      success: function (res) {
        if (!res.checkResult || !res.checkResult[API]) {
          note(data("old-client"));
          return;
        }
        button.disabled = false;
      }
    });
  });
  button.addEventListener("click", function () {
    if (!window.WeixinJSBridge || typeof window.WeixinJSBridge.invoke !== "function") {
      note(data("no-bridge"));
      return;
    }
    window.WeixinJSBridge.invoke(API, {
      mchId: data("mch-id"),
      appId: data("app-id"),
      package: data("package"),
      openId: data("open-id")
    }, function (res) { answered(res && res.err_msg); });
  });
})();
