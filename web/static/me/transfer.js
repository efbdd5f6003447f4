// The confirm page of a 商家转账 withdrawal (web/templates/me/withdrawal.html): hands the bill's
// package_info to wx.requestMerchantTransfer (「用户确认收款」), which WeChat shows to the user.
(function () {
  "use strict";
  var button = document.getElementById("confirm-transfer");
  if (!button) { return; }
  function done(message) {
    var note = document.getElementById("transfer-note");
    if (note) { note.textContent = message; }
  }
  button.addEventListener("click", function () {
    if (!window.wx || typeof window.wx.requestMerchantTransfer !== "function") {
      done(button.getAttribute("data-no-bridge"));
      return;
    }
    window.wx.requestMerchantTransfer({
      mchId: button.getAttribute("data-mch-id"),
      appId: button.getAttribute("data-app-id"),
      package: button.getAttribute("data-package"),
      openId: button.getAttribute("data-open-id"),
      success: function () { window.location.reload(); },
      fail: function () { done(button.getAttribute("data-failed")); }
    });
  });
})();
