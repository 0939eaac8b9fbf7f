"""HTML templates of the static site (plain strings; no external resources)."""

from __future__ import annotations

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1200px;padding:0 1em;color:#1b1b1b}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right;white-space:nowrap}
th:nth-child(2),td:nth-child(2){text-align:left;white-space:normal;min-width:12em}
th.sortable{cursor:pointer;background:#f3f3f3;user-select:none}
th.sortable:hover{background:#e4e4e4}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.ci{color:#777;font-size:.85em}.tie{color:#b35900}
.note{color:#555;font-size:.85em}img{max-width:100%;border:1px solid #eee;margin:.3em 0}
nav a{margin-right:1em}
"""

SORT_JS = """
(function(){
  function key(td){var v=td.getAttribute('data-value');
    if(v===null||v===''){return null;} var f=parseFloat(v); return isNaN(f)?v.toLowerCase():f;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads=table.querySelectorAll('th.sortable');
    heads.forEach(function(th,col){
      th.addEventListener('click',function(){
        var idx=Array.prototype.indexOf.call(th.parentNode.children,th);
        var asc=th.getAttribute('aria-sort')!=='ascending';
        heads.forEach(function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=table.tBodies[0]; var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a.cells[idx]),y=key(b.cells[idx]);
          if(x===null&&y===null)return 0; if(x===null)return 1; if(y===null)return -1;
          if(x<y)return asc?-1:1; if(x>y)return asc?1:-1; return 0;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,"><style>{css}</style></head>
<body>
<nav><a href="{root}index.html">leaderboard</a></nav>
{body}
<script>{js}</script>
</body></html>
"""
