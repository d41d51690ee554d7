// Injected into a copy of the Snakemake report: once the app has rendered, show every
// result through the app's own view (as a click on its eye button does) and record what
// the browser drew, as JSON in a pre element (id pathfm-check) for --dump-dom to read back.
window.addEventListener("load", () => {
  const out = [];
  const paths = Object.keys(results);
  let i = 0;
  const finish = () => {
    const pre = document.createElement("pre");
    pre.id = "pathfm-check";
    pre.textContent = JSON.stringify({
      categories: [...document.querySelectorAll("#app a, #app span")].map((el) => el.textContent),
      results: out,
    });
    document.body.appendChild(pre);
  };
  const step = () => {
    if (i >= paths.length) return finish();
    const path = paths[i++];
    const entry = results[path];
    const mime = getResultMimeType(path);
    const content = mime.startsWith("image/") ? "img" : mime === "text/html" ? "html" : null;
    if (!content) {
      out.push({ path, mime, view: "download" });
      return setTimeout(step, 0);
    }
    app.setView({ content, contentPath: entry.data_uri, resultPath: path });
    setTimeout(() => {
      const tag = content === "img" ? "#app img" : "#app iframe";
      const el = [...document.querySelectorAll(tag)].find((x) => x.getAttribute("src") === entry.data_uri);
      const info = { path, mime, view: content, shown: !!el };
      if (el && content === "img") {
        info.width = el.naturalWidth;
        info.height = el.naturalHeight;
      }
      if (el && content === "html") {
        const html = atob(el.getAttribute("src").split(",")[1]);
        const doc = new DOMParser().parseFromString(html, "text/html");
        info.rows = doc.querySelectorAll("tbody tr").length;
        info.headers = [...doc.querySelectorAll("th")].map((th) => th.textContent);
        info.text = doc.body.textContent.slice(0, 4000);
      }
      out.push(info);
      step();
    }, 300);
  };
  setTimeout(step, 500);
});
