// response_mode=fragment: post the fragment's parameters back to the redirect URI.
(function () {
  "use strict";
  var form = document.querySelector("[data-fragment-form]");
  var params = new URLSearchParams(window.location.hash.slice(1));
  if (!form || !params.toString()) { return; }
  params.forEach(function (value, name) {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = value;
    form.appendChild(field);
  });
  history.replaceState(null, "", window.location.pathname);  // the code leaves the address bar
  form.submit();
})();
