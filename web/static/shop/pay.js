// The shop's pay page (web/templates/shop/pay.html): hands the order's JSAPI parameters to
// WeixinJSBridge.invoke("getBrandWCPayRequest") (「JSAPI调起支付」). Whatever the callback
// says, the result page asks the server: the order's state comes from WeChat Pay's notify or a
// query, never from the browser.
(function () {
  "use strict";
  var button = document.getElementById("pay");
  if (!button) { return; }
  function data(name) { return button.getAttribute("data-" + name); }
  function pay() {
    if (!window.WeixinJSBridge || typeof window.WeixinJSBridge.invoke !== "function") {
      document.getElementById("pay-note").textContent = data("no-bridge");
      return;
    }
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", {
      appId: data("appid"),
      timeStamp: data("timestamp"),
      nonceStr: data("noncestr"),
      package: data("package"),
      signType: data("signtype"),
      paySign: data("paysign")
    }, function () { window.location.href = data("result"); });
  }
  button.addEventListener("click", pay);
})();
