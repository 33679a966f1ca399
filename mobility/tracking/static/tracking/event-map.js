/* The event map: district boundaries from the API, and one line per group movement from origin to destination. */
(function () {
  "use strict";

  function withZoom(url, zoom) {
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "zoom=" + Math.max(0, Math.round(zoom));
  }

  function init(el) {
    var note = document.getElementById("event-map-note");
    var dataEl = document.getElementById("event-map-data");
    var data = dataEl ? JSON.parse(dataEl.textContent) : { lines: [] };
    var people = el.getAttribute("data-people") || "";
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false });
    map.setView([0, 0], 2);
    var drawn = L.featureGroup().addTo(map);
    var max = data.lines.reduce(function (m, l) { return Math.max(m, l.individuals); }, 1);

    data.lines.forEach(function (line) {
      var weight = 2 + 8 * Math.sqrt(line.individuals / max);
      L.polyline([line.from, line.to], { color: "#b42318", weight: weight, opacity: 0.8 })
        .bindTooltip(line.label + ": " + line.individuals.toLocaleString() + " " + people, { sticky: true })
        .addTo(drawn);
      L.circleMarker(line.to, { radius: 4 + weight / 2, color: "#17324d", weight: 1.5, fillColor: "#ffd166", fillOpacity: 0.9 })
        .bindTooltip(line.label).addTo(drawn);
    });
    if (data.origin) {
      L.circleMarker(data.origin, { radius: 8, color: "#6d1710", weight: 2, fillColor: "#b42318", fillOpacity: 0.9 }).addTo(drawn);
    }
    if (drawn.getLayers().length) { map.fitBounds(drawn.getBounds(), { padding: [30, 30], maxZoom: 9 }); }

    var url = el.getAttribute("data-boundaries");
    if (!url) { return; }
    fetch(withZoom(url, map.getZoom()), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (geo) {
        el.setAttribute("data-done", "1");
        if (!geo.features.length && !drawn.getLayers().length) {
          if (note) { note.textContent = el.getAttribute("data-empty"); }
          return;
        }
        var areas = L.geoJSON(geo, {
          style: { color: "#9aa6b2", weight: 1, fillColor: "#dfe6ee", fillOpacity: 0.6 },
          onEachFeature: function (feature, layer) {
            var p = feature.properties || {};
            layer.bindTooltip((p.name || "") + " · " + (p.pcode || ""), { sticky: true });
          }
        }).addTo(map);
        areas.bringToBack();
        if (!drawn.getLayers().length) { map.fitBounds(areas.getBounds(), { padding: [8, 8] }); }
        el.setAttribute("data-loaded", String(geo.features.length + data.lines.length));
      })
      .catch(function () {
        el.setAttribute("data-done", "error");
        if (note) { note.textContent = el.getAttribute("data-error"); }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("event-map");
    if (el && window.L) { init(el); }
  });
})();
