"""Pieces the browser tests share: a short linked article and a probe of the answer's texts."""

# Short: the tiny model takes 1024 tokens in all, 256 of them for the answer.
ARTICLE = """<html><head><title>Small models, big wins</title></head><body><article>
<h1>Small models, big wins</h1>
<p>Distilled models cut serving cost by 80 percent and still pass our evaluation sets.</p>
</article></body></html>"""

# Records every text the newest answer shows, in order, from inside the page (the page appends
# each streamed piece, then sets the final text, which is the model server's own decoding).
RECORD_ANSWER = """() => {
  window.answerTexts = [];
  const list = document.querySelector("#conversation");
  new MutationObserver(() => {
    const answer = list.querySelector(".turn:last-child .answer");
    if (answer) window.answerTexts.push(answer.textContent);
  }).observe(list, { childList: true, characterData: true, subtree: true });
}"""
