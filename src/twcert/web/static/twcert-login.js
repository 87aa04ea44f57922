/* twcert login page: the HiPKI /popupForm exchange, then the server's login steps.
 * The one script of both adapters' login pages (Flask and Django); the page gives it its
 * addresses in data-* attributes of #twcert-login (see docs/web-json.md).
 *
 * 1. "讀取卡片": the agent's popup answers {"func":"GetUserCert"} with the inserted cards.
 * 2. "登入": a fresh challenge from the server; the popup signs it with the chosen card and the
 *    PIN (which goes only to the local component); the answer, success or not, is posted to the
 *    server, which verifies it, counts wrong PINs and says what to show.
 * 3. The server answers ok (go on), account_required (the first-use page) or an error, shown
 *    with its code, zh-TW and English message and the action (e.g. the unblock page).
 * Anything that fails before the server sees an answer (no agent, popup blocked or closed, no
 * card) is sent to {prefix}/client-error so its catalogued text is shown too.
 */
(function () {
  "use strict";

  var form = document.getElementById("twcert-login");
  if (!form) { return; }
  var cfg = form.dataset;
  var AGENT = cfg.agentUrl.replace(/\/+$/, "");
  var AGENT_ORIGIN = new URL(AGENT).origin;
  var HANDSHAKE_MS = 15000;   // the popup must say {"func":"getTbs"} by then (agent running?)
  var ANSWER_MS = 120000;     // a real card may take a while to sign
  var CLOSED_GRACE_MS = 1500; // the popup closes itself right after posting its answer
  var csrf = cfg.csrfToken;
  var busy = false;
  var slots = [];

  var select = document.getElementById("twcert-card");
  var pin = document.getElementById("twcert-pin");
  var statusBox = document.getElementById("twcert-status");
  var errorBox = document.getElementById("twcert-error");
  var readButton = document.getElementById("twcert-read-cards");
  var submitButton = document.getElementById("twcert-submit");

  var FALLBACK = {
    code: "INTERNAL_ERROR",
    message_zh: "系統發生錯誤，請稍後再試。",
    message_en: "An unexpected error occurred; please try again later.",
    action_zh: "請稍後再試；若持續發生請洽系統管理者。",
    action_en: "Try again later; contact the administrator if it persists.",
    action_url: null
  };

  function setBusy(value, text) {
    busy = value;
    readButton.disabled = value;
    submitButton.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
    statusBox.textContent = text || "";
  }

  function showError(error) {
    var e = error || FALLBACK;
    errorBox.querySelector("code").textContent = e.code || "";
    errorBox.querySelector(".twcert-error-zh").textContent = e.message_zh || "";
    errorBox.querySelector(".twcert-error-en").textContent = e.message_en || "";
    var action = (e.action_zh || "") + (e.action_en ? " " + e.action_en : "");
    errorBox.querySelector(".twcert-error-action").textContent = action ? "處理方式：" + action : "";
    var link = errorBox.querySelector(".twcert-error-link a");
    link.textContent = e.action_url || "";
    if (e.action_url) { link.setAttribute("href", e.action_url); } else { link.removeAttribute("href"); }
    errorBox.setAttribute("data-code", e.code || "");
    errorBox.hidden = false;
    errorBox.focus();
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.removeAttribute("data-code");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {status: "error", error: FALLBACK}; });
    });
  }

  // Anything the server did not see: ask it for the catalogued text.
  // The card type the user chose goes along, so a locked card is sent to its CA's unblock page.
  function explain(report) {
    report.card_type = chosenKind();
    return post(cfg.clientErrorUrl, report).then(function (answer) {
      showError(answer.error);
    }, function () { showError(FALLBACK); });
  }

  function fail(reason) {
    if (reason && reason.server) { showError(reason.server.error); return Promise.resolve(); }
    if (typeof reason === "string") { return explain({client_error: reason}); }
    showError(FALLBACK);
    return Promise.resolve();
  }

  // One /popupForm exchange. Must start inside the click handler, or browsers block the popup.
  function exchange(packagePromise) {
    return new Promise(function (resolve, reject) {
      var popup = window.open(AGENT + "/popupForm", "twcert-signing", "width=380,height=260");
      if (!popup) { reject("popup_blocked"); return; }
      var done = false;
      var timer = null;
      var closedTimer = null;
      var watcher = setInterval(function () {
        if (popup.closed && !done && closedTimer === null) {
          closedTimer = setTimeout(function () { finish(); reject("cancelled"); }, CLOSED_GRACE_MS);
        }
      }, 250);

      function arm(ms) {
        clearTimeout(timer);
        timer = setTimeout(function () {
          finish();
          try { popup.close(); } catch (ignored) { /* already gone */ }
          reject("agent_unreachable");
        }, ms);
      }

      function finish() {
        done = true;
        clearTimeout(timer);
        clearTimeout(closedTimer);
        clearInterval(watcher);
        window.removeEventListener("message", onMessage);
      }

      function onMessage(event) {
        if (done || event.origin !== AGENT_ORIGIN || event.source !== popup) { return; }
        var message;
        try { message = JSON.parse(event.data); } catch (ignored) { return; }
        if (message && message.func === "getTbs") {
          arm(ANSWER_MS);
          packagePromise.then(function (pkg) {
            popup.postMessage(JSON.stringify(pkg), AGENT_ORIGIN);
          }, function (reason) {
            finish();
            try { popup.close(); } catch (ignored) { /* already gone */ }
            reject(reason);
          });
          return;
        }
        finish();
        resolve(message);
      }

      window.addEventListener("message", onMessage);
      arm(HANDSHAKE_MS);
    });
  }

  function kindOf(cert) {
    var issuer = (cert && cert.issuerDN) || "";
    if (issuer.indexOf("內政部憑證管理中心") !== -1) { return "citizen"; }
    if (/政府(測試)?憑證管理中心/.test(issuer)) { return "agency"; }
    return "other";
  }

  function signingCert(slot) {
    var certs = (slot.token && slot.token.certs) || [];
    for (var i = 0; i < certs.length; i++) {
      if (certs[i].usage === "signing" || certs[i].usage === "dual") { return certs[i]; }
    }
    return certs[0] || null;
  }

  function masked(serial) {
    return serial && serial.length > 8 ? serial.slice(0, 4) + "****" + serial.slice(-4) : (serial || "");
  }

  function chosenKind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "citizen";
  }

  // The chosen card type and card survive a visit to an error or first-use page.
  var KEPT = "twcert-chosen";
  function remember() {
    try {
      window.sessionStorage.setItem(KEPT, JSON.stringify({kind: chosenKind(), slot: select.value}));
    } catch (ignored) { /* storage disabled: the user chooses again */ }
  }
  function remembered() {
    try { return JSON.parse(window.sessionStorage.getItem(KEPT) || "null") || {}; } catch (ignored) { return {}; }
  }
  (function restoreKind() {
    var kept = remembered();
    var radio = kept.kind && form.querySelector("input[name=kind][value=" + kept.kind + "]");
    if (radio) { radio.checked = true; }
  })();

  function fillCards() {
    var kind = chosenKind();
    select.innerHTML = "";
    var count = 0;
    slots.forEach(function (slot) {
      var cert = signingCert(slot);
      if (!cert || kindOf(cert) !== kind) { return; }
      var option = document.createElement("option");
      option.value = slot.slotDescription;
      option.textContent = cert.subjectCN + "（卡號 " + masked(slot.token.serialNumber) + "）";
      select.appendChild(option);
      count += 1;
    });
    var kept = remembered();
    if (kept.slot && kept.kind === kind) {
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === kept.slot) { select.selectedIndex = i; }
      }
    }
    if (count === 0) {
      var none = document.createElement("option");
      none.value = "";
      none.textContent = slots.length ? "（未偵測到此種類之卡片）" : "（請先讀取卡片）";
      select.appendChild(none);
    }
    return count;
  }

  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === "kind") { fillCards(); }
    remember();
  });

  readButton.addEventListener("click", function () {
    if (busy) { return; }
    clearError();
    setBusy(true, "讀取卡片中…");
    exchange(Promise.resolve({func: "GetUserCert"})).then(function (info) {
      if (info.ret_code !== 0) { return explain({ret_code: info.ret_code, last_error: info.last_error}); }
      slots = info.slots || [];
      var count = fillCards();
      statusBox.textContent = "讀到 " + slots.length + " 張卡片，其中 " + count + " 張為所選種類。";
      return null;
    }).catch(fail).then(function () {
      busy = false;
      readButton.disabled = false;
      submitButton.disabled = false;
      form.setAttribute("aria-busy", "false");
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    clearError();
    if (!select.value) {
      explain({ret_code: 0x76000006, last_error: 0});  // 未插入IC卡
      return;
    }
    remember();
    setBusy(true, "簽章中，請稍候…");
    var challenge = null;
    var leaving = false;
    var secret = pin.value;
    var slot = select.value;
    var packagePromise = post(cfg.challengeUrl, {}).then(function (answer) {
      if (answer.status !== "ok") { throw {server: answer}; }
      challenge = answer;
      csrf = answer.csrf_token || csrf;
      return {
        func: "MakeSignature",
        tbs: answer.tbs,
        tbsEncoding: answer.tbs_encoding || "NONE",
        hashAlgorithm: answer.hash_algorithm,
        signatureType: answer.signature_type,
        pin: secret,
        withCardSN: true,
        slotDescription: slot
      };
    });
    exchange(packagePromise).then(function (answer) {
      statusBox.textContent = "驗證中…";
      return post(cfg.loginUrl, {
        challenge_id: challenge.challenge_id, response: answer, next: cfg.next, card_type: chosenKind()
      });
    }).then(function (result) {
      if (result.status === "ok") {
        leaving = true;
        statusBox.textContent = "登入成功，轉頁中…";
        window.location.assign(result.redirect);
        return null;
      }
      if (result.status === "account_required") {
        leaving = true;
        statusBox.textContent = "首次使用，請輸入帳號…";
        window.location.assign(result.first_use_url);
        return null;
      }
      showError(result.error);
      return null;
    }).catch(fail).then(function () {
      secret = null;
      pin.value = "";
      if (!leaving) { setBusy(false, ""); }
    });
  });
})();
