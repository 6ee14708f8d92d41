"""Invented documents of one made-up author, for the dataset tests."""

from __future__ import annotations

from twin_core.documents import Document

POSTS = [
    "Shipping a model is the easy part. Keeping it honest for a year is the job: monitor the inputs, "
    "version the data, and write down why every threshold is what it is.",
    "I stopped asking candidates to whiteboard algorithms. Now we debug a flaky pipeline together "
    "for forty minutes and talk about what we would log next time.",
    "Our evaluation set is the product spec. When a stakeholder asks what the model should do, I "
    "hand them twenty examples and ask which ones they would change.",
    "Small models with fast feedback loops beat big models with slow ones, at least for the first "
    "six months of any project I have seen succeed.",
]

ARTICLE = "\n\n".join([
    "Every data pipeline I trust has one property in common: you can run it twice and nothing bad "
    "happens. The second run finds the work done and quietly does nothing.",
    "Idempotence sounds academic until the scheduler retries a job at three in the morning. Then it "
    "is the difference between a quiet night and a duplicated invoice table.",
    "The trick is boring: key every write by content, make every step check before it acts, and "
    "keep the state somewhere a second run can see it.",
])


def documents(author: str = "Ada Example") -> list[Document]:
    docs = [
        Document.create(platform="linkedin", category="post", author=author,
                        url=f"https://www.linkedin.com/posts/ada-{i}", title="", content=text)
        for i, text in enumerate(POSTS)
    ]
    docs.append(Document.create(
        platform="medium", category="article", author=author, url="https://medium.com/@ada/twice",
        title="Your pipeline should survive being run twice", content=ARTICLE,
    ))
    return docs
