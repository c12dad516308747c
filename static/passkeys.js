// Passkey buttons: <button data-passkey="get|create" data-url="..."> inside an element
// marked data-passkey-box (hidden until this script sees WebAuthn in the browser).
// The server answers POST url?options with the ceremony's options, and POST url
// with {"credential": ..., "name": ...} with {"location": ...} or an error.
(() => {
  "use strict";
  if (!window.PublicKeyCredential) return;

  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  const bytes = (b64url) => {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  };
  const text = (buffer) => {
    let raw = "";
    for (const b of new Uint8Array(buffer)) raw += String.fromCharCode(b);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  // Native parsers where the browser has them (WebAuthn Level 3), else by hand.
  const parse = (kind, json) => {
    if (kind === "create" && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    if (kind === "get" && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    const options = { ...json, challenge: bytes(json.challenge) };
    const list = (items) => (items || []).map((c) => ({ ...c, id: bytes(c.id) }));
    if (kind === "create") {
      options.user = { ...json.user, id: bytes(json.user.id) };
      options.excludeCredentials = list(json.excludeCredentials);
    } else {
      options.allowCredentials = list(json.allowCredentials);
    }
    return options;
  };

  const serialise = (credential) => {
    if (credential.toJSON) return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      if (r.userHandle) response.userHandle = text(r.userHandle);
    }
    return {
      id: credential.id, rawId: text(credential.rawId), type: credential.type, response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  };

  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(answer.error_description || "Something went wrong. Try again.");
    }
    return answer;
  };

  const run = async (button, box) => {
    const kind = button.dataset.passkey;
    const url = button.dataset.url;
    const options = await post(url + (url.includes("?") ? "&" : "?") + "options");
    const publicKey = parse(kind, options);
    const credential = kind === "create"
      ? await navigator.credentials.create({ publicKey })
      : await navigator.credentials.get({ publicKey });
    const name = box.querySelector("[data-passkey-name]");
    const answer = await post(url, { credential: serialise(credential),
                                     name: name ? name.value : "" });
    window.location.assign(answer.location);
  };

  for (const box of document.querySelectorAll("[data-passkey-box]")) {
    const button = box.querySelector("button[data-passkey]");
    const error = box.querySelector("[data-passkey-error]");
    box.hidden = false;
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.hidden = true;
      try {
        await run(button, box);
      } catch (problem) {
        error.textContent = problem.name === "NotAllowedError"
          ? "The passkey was not used (cancelled, or timed out)."
          : problem.message;
        error.hidden = false;
        button.disabled = false;
      }
    });
  }
})();
