/* The submission browser's map: the GPS points of the filtered submissions (the page's GeoJSON endpoint,
   which carries no answers), drawn over the admin boundaries of the gazetteer when it has them. */
(function () {
  "use strict";

  var COLORS = { attention: "#b42318", superseded: "#8a94a0", processed: "#1d7a46", received: "#0b6bb8", flagged: "#d08700" };

  function color(p) {
    if (p.status === "attention") { return COLORS.attention; }
    if (p.flags && p.flags.length) { return COLORS.flagged; }
    return COLORS[p.status] || COLORS.received;
  }

  function popup(p, detail) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = detail.replace(/0\/$/, String(p.id) + "/");
    link.textContent = String(p.instance_id || p.id).replace(/^uuid:/, "").slice(0, 8);
    box.appendChild(link);
    var status = document.createElement("div");
    status.textContent = p.status + (p.flags && p.flags.length ? " · " + p.flags.join(", ") : "");
    box.appendChild(status);
    return box;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    });
  }

  function withZoom(url, zoom) {
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "zoom=" + Math.max(0, Math.min(18, Math.round(zoom)));
  }

  function boundaries(map, url, fitIfAlone) {
    if (!url) { return; }
    getJSON(withZoom(url, map.getZoom()))
      .then(function (geo) {
        if (!geo.features || !geo.features.length) { return; }
        var areas = L.geoJSON(geo, {
          style: { color: "#9aa6b2", weight: 1, fillColor: "#dfe6ee", fillOpacity: 0.55 },
          onEachFeature: function (feature, layer) {
            var p = feature.properties || {};
            layer.bindTooltip((p.name || "") + " · " + (p.pcode || ""), { sticky: true });
          }
        }).addTo(map);
        areas.bringToBack();
        if (fitIfAlone) { map.fitBounds(areas.getBounds(), { padding: [8, 8] }); }
      })
      .catch(function () { /* the points are what matters; boundaries are a backdrop */ });
  }

  function init(el) {
    var note = document.getElementById("submission-map-note");
    var detail = el.getAttribute("data-detail");
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false });
    map.setView([0, 0], 2);
    getJSON(el.getAttribute("data-geojson"))
      .then(function (geo) {
        var points = L.geoJSON(geo, {
          pointToLayer: function (feature, latlng) {
            return L.circleMarker(latlng, {
              radius: 6, weight: 1.5, color: "#17324d", fillColor: color(feature.properties), fillOpacity: 0.9
            });
          },
          onEachFeature: function (feature, marker) {
            marker.bindPopup(function () { return popup(feature.properties, detail); });
          }
        }).addTo(map);
        el.setAttribute("data-loaded", String(geo.features.length));
        if (geo.features.length) {
          map.fitBounds(points.getBounds(), { padding: [24, 24], maxZoom: 14 });
        } else if (note) {
          note.textContent = el.getAttribute("data-empty");
        }
        boundaries(map, el.getAttribute("data-boundaries"), !geo.features.length);
      })
      .catch(function () {
        el.setAttribute("data-loaded", "error");
        if (note) { note.textContent = el.getAttribute("data-error"); }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("submission-map");
    if (el && window.L) { init(el); }
  });
})();
