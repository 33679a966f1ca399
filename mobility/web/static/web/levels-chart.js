/* Areas per admin level, as a bar chart (chart.js); the table beside it holds the same numbers. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("levels-chart");
    if (!canvas || !window.Chart) { return; }
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var rtl = document.documentElement.getAttribute("dir") === "rtl";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: canvas.getAttribute("data-label-areas"), data: data.areas, backgroundColor: "#0b6bb8" },
          { label: canvas.getAttribute("data-label-geometry"), data: data.with_geometry, backgroundColor: "#9fd3f0" }
        ]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        locale: document.documentElement.lang || "en",
        plugins: { legend: { position: "bottom", rtl: rtl }, tooltip: { rtl: rtl } },
        scales: { x: { reverse: rtl }, y: { beginAtZero: true, position: rtl ? "right" : "left" } }
      }
    });
  });
})();
