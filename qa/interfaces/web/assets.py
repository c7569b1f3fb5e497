"""The page's own CSS and JavaScript (strings gradio puts into the page)."""

from __future__ import annotations

from ...render import html as render

# Below this width gradio stacks the chat above the viewer: a phone.
PHONE_WIDTH_PX = 640

CSS = render.STYLESHEET + """
.qa-header h1 { margin: 0; font-size: 1.7rem; }
.qa-header p { margin: .2rem 0 0; color: var(--body-text-color-subdued); }
.qa-stats { font-size: .9rem; }
#upload-status .ok { color: #166534; } #upload-status .bad { color: #b91c1c; } #upload-status .busy { color: #075985; }
#upload-status ul { list-style: none; padding-left: 0; margin: .3rem 0; }
#qa-back { position: fixed; right: 12px; bottom: 16px; z-index: 1000; display: none; padding: .55rem .9rem;
  border-radius: 999px; border: 0; background: #4338ca; color: #fff; font-weight: 600; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
#chat button.qa-copied { outline: 2px solid #16a34a; }
@media (max-width: __PHONE__px) {
  #question-row { flex-wrap: wrap; }
  #question-row > * { flex: 1 1 40%; }
  #question { flex: 1 1 100% !important; min-width: 100% !important; }
}
""".replace("__PHONE__", str(PHONE_WIDTH_PX))

# Citation links inside chat answers cannot call Python themselves (the chat sanitizes
# messages), so a click copies the link's target into a hidden box and presses a hidden
# button: #source/... opens the article, #redo/... asks again without the date range.
# The copy buttons copy the message's content, which is HTML; they copy the answer's
# Markdown (in its hidden .qa-copy) instead. A file picked for upload gets its status line at once,
# so a file gradio itself refuses (too large) never leaves an old message standing.
JS = """
() => {
  const send = (boxId, goId, value) => {
    const box = document.querySelector(`#${boxId} textarea, #${boxId} input`);
    const go = document.querySelector(`#${goId}`);
    if (!box || !go) return;
    box.value = value;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => go.click(), 50);
  };
  const messageText = (el) => {
    const answer = el.querySelector('.qa-copy[title]');
    return answer ? answer.getAttribute('title') : el.innerText.trim();
  };
  document.addEventListener('click', (event) => {
    const copy = event.target.closest('#chat button[aria-label^="Cop"]');
    if (copy) {
      let text;
      if (/conversation/i.test(copy.getAttribute('aria-label'))) {
        text = [...document.querySelectorAll('#chat [data-testid="user"], #chat [data-testid="bot"]')]
          .map((m) => (m.dataset.testid === 'user' ? '**Question:** ' : '') + messageText(m)).join('\\n\\n---\\n\\n');
      } else {
        // A message's buttons follow it in the page: the message is the last one before them.
        const before = [...document.querySelectorAll('#chat [data-testid="bot"], #chat [data-testid="user"]')]
          .filter((m) => m.compareDocumentPosition(copy) & Node.DOCUMENT_POSITION_FOLLOWING);
        if (!before.length) return;
        text = messageText(before[before.length - 1]);
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      navigator.clipboard.writeText(text).then(() => {
        copy.classList.add('qa-copied');
        setTimeout(() => copy.classList.remove('qa-copied'), 1200);
      });
      return;
    }
    const link = event.target.closest('a[href^="#source/"], a[href^="#redo/"]');
    if (!link) return;
    event.preventDefault();
    const ref = link.getAttribute('href');
    if (ref.startsWith('#redo/')) { send('redo-ref', 'redo-go', ref); return; }
    window.qaCitedFrom = link.closest('.qa-cite, .qa-quote') || link;
    send('cite-ref', 'cite-go', ref);
  }, true);
  document.addEventListener('change', (event) => {
    const input = event.target.closest('#upload input[type="file"]');
    const lines = document.querySelector('#upload-status .qa-upload-lines');
    if (!input || !lines) return;
    const esc = (t) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    lines.innerHTML = '<ul>' + [...input.files].map((f) => f.size > __MAX_UPLOAD__
      ? `<li class="bad">✗ ${esc(f.name)} — not added: ${f.size.toLocaleString('en')} bytes is over the ${(__MAX_UPLOAD__).toLocaleString('en')}-byte upload limit; split the file</li>`
      : `<li class="busy">… ${esc(f.name)} — uploading</li>`).join('') + '</ul>';
  }, true);
  const back = document.createElement('button');
  back.id = 'qa-back';
  back.type = 'button';
  back.textContent = '‹ Back to the answer';
  back.addEventListener('click', () => {
    back.style.display = 'none';
    if (window.qaCitedFrom) window.qaCitedFrom.scrollIntoView({block: 'center'});
  });
  document.body.appendChild(back);
  // A keyboard user starts typing at once; focusing must not scroll the page (the title,
  // the article count and the Documents tab stay in view), and a phone's keyboard stays shut.
  if (window.matchMedia('(pointer: fine)').matches) {
    setTimeout(() => {
      const q = document.querySelector('#question textarea');
      if (q) q.focus({preventScroll: true});
    }, 300);
  }
}
"""


def page_js(max_upload_bytes: int) -> str:
    return JS.replace("__MAX_UPLOAD__", str(int(max_upload_bytes)))


# The chat does not scroll itself to the bottom (a long answer would hide its own start):
# after an answer the latest question goes to the top of the chat.
SCROLL_ANSWER = """
() => {
  setTimeout(() => {
    const asked = document.querySelectorAll('#chat [data-testid="user"]');
    const last = asked[asked.length - 1];
    let pane = last && last.parentElement;
    while (pane && !(pane.scrollHeight > pane.clientHeight + 4 && /(auto|scroll)/.test(getComputedStyle(pane).overflowY))) {
      pane = pane.parentElement;
    }
    if (pane && pane !== document.documentElement && pane !== document.body) {
      pane.scrollTop += last.getBoundingClientRect().top - pane.getBoundingClientRect().top - 48;
    }
  }, 100);
}
"""
# The focused citation goes into view inside the viewer.
SCROLL_VIEWER = """
() => {
  setTimeout(() => {
    const box = document.querySelector('#viewer .qa-article-text');
    const mark = box && box.querySelector('.qa-focus');
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  }, 100);
}
"""
# A citation opened where the viewer is out of sight (a phone, where it sits below the
# chat): the page goes to the viewer, and a button brings the reader back to the answer.
SHOW_SOURCE = """
() => {
  setTimeout(() => {
    const box = document.querySelector('#viewer .qa-article-text');
    const mark = box && box.querySelector('.qa-focus');
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
    const viewer = document.querySelector('#viewer');
    if (!viewer) return;
    const rect = viewer.getBoundingClientRect();
    if (rect.top >= 0 && rect.top < window.innerHeight * 0.6) return;
    viewer.scrollIntoView({block: 'start'});
    const back = document.querySelector('#qa-back');
    if (back) back.style.display = 'block';
  }, 100);
}
"""
