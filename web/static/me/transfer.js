// The confirm page of a 商家转账 withdrawal (web/templates/me/withdrawal.html): hands the bill's
// package_info to wx.requestMerchantTransfer (「用户确认收款」), which WeChat shows to the user.
// Inside WeChat's browser the same call is also reachable as
// WeixinJSBridge.invoke("requestMerchantTransfer", ...), used when wx lacks it.
(function () {
  "use strict";
  var button = document.getElementById("confirm-transfer");
  if (!button) { return; }
  function note(message) {
    var line = document.getElementById("transfer-note");
    if (line) { line.textContent = message; }
  }
  function params() {
    return {
      mchId: button.getAttribute("data-mch-id"),
      appId: button.getAttribute("data-app-id"),
      package: button.getAttribute("data-package"),
      openId: button.getAttribute("data-open-id")
    };
  }
  function answered(errMsg) {
    if (String(errMsg || "").slice(-3) === ":ok") {
      window.location.reload();
    } else {
      note(button.getAttribute("data-failed"));
    }
  }
  button.addEventListener("click", function () {
    var options = params();
    if (window.wx && typeof window.wx.requestMerchantTransfer === "function") {
      options.success = function (res) { answered((res && res.errMsg) || ":ok"); };
      options.fail = function () { answered(""); };
      window.wx.requestMerchantTransfer(options);
    } else if (window.WeixinJSBridge && typeof window.WeixinJSBridge.invoke === "function") {
      window.WeixinJSBridge.invoke("requestMerchantTransfer", options, function (res) {
        answered(res && res.err_msg);
      });
    } else {
      note(button.getAttribute("data-no-bridge"));
    }
  });
})();
