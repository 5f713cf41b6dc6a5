/* Holder page, e-certificates (电子证照): "Show QR" loads the certificate's QR picture.
 *
 * Each GET /holder/certificates/{kind}.png signs (and audits) a new certificate, so the
 * picture is fetched only when asked for, never on page load. The PNG and PDF buttons
 * are plain download links.
 */
"use strict";

(function () {
  document.querySelectorAll(".cert-show").forEach(function (button) {
    button.addEventListener("click", function () {
      const img = button.closest(".cert").querySelector(".cert-qr");
      if (!img.hidden) {
        img.hidden = true;
        button.setAttribute("aria-expanded", "false");
        return;
      }
      img.src = button.dataset.src + "&t=" + Date.now();
      img.hidden = false;
      button.setAttribute("aria-expanded", "true");
    });
  });
})();
