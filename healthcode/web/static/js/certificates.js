/* Holder page, e-certificates (电子证照): "Show QR" loads the certificate's QR picture.
 *
 * The page lists the holder's current certificate of each kind and format; its QR, PNG,
 * PDF and text links name it (?id=), and each is the same certificate — the server signs
 * it again with its own ID and times, which gives the same text. The picture is still
 * fetched only when asked for. A certificate is issued only by the "Issue" form.
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
      if (!img.getAttribute("src")) {
        img.src = button.dataset.src;
      }
      img.hidden = false;
      button.setAttribute("aria-expanded", "true");
    });
  });
})();
