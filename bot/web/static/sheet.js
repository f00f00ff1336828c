// The printable guide sheet's « Imprimer » button. A file of its own: the console's
// Content-Security-Policy (script-src 'self') forbids inline scripts.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-sheet");
  if (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  }
});
