"""SavedModel exports, one per task pattern, with serving signatures over raw strings.

A served model should need nothing but its SavedModel: the character lookup,
truncation and padding that a recipe's data pipeline does in Python are
rebuilt here as TensorFlow ops (``tf.strings.unicode_split`` and a
``tf.lookup.StaticHashTable``) in front of the Keras model, decoding runs in
the graph on :mod:`rnn_zoo.decoding`, and everything is written out with
``keras.export.ExportArchive``.

- classifier: :func:`export_char_classifier`, :func:`export_text_classifier`,
  :func:`export_frames_classifier`, all on :func:`write_classifier_archive`;
- forecaster: :func:`export_forecaster`;
- tagger: :func:`export_truecaser`, :func:`export_char_tagger` (per-character
  tags, optionally the words they segment);
- generator: :func:`export_char_generator` (prompt -> continuation) and
  :func:`export_conditioned_generator` (class name + seed -> a string);
- encoder-decoder: :func:`export_seq2seq` on :func:`export_char_seq2seq`.

Example (after ``rnn-zoo train names --output DIR``):

>>> import tensorflow as tf
>>> served = tf.saved_model.load("DIR/export")  # doctest: +SKIP
>>> served.classify(tf.constant(["Rossi", "Nowak"]))["label"]  # doctest: +SKIP
<tf.Tensor: shape=(2,), dtype=string, numpy=array([b'Italian', b'Polish'], dtype=object)>
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from rnn_zoo import _checks
from rnn_zoo.data.names import DEFAULT_MAX_LENGTH, FIRST_CHAR_ID, OOV_ID, PAD_ID
from rnn_zoo.export._archive import _char_table, _check_strings, _named, _write_archive
from rnn_zoo.export.litert import export_litert, litert_ops, litert_predict  # noqa: F401
from rnn_zoo.export.onnx import export_onnx  # noqa: F401
from rnn_zoo.export.streaming import StreamingError, export_streaming  # noqa: F401
from rnn_zoo.serving import write_export_info


def _check_bucket_lengths(bucket_lengths, max_length: int) -> list[int]:
    """The padded widths of a batch: ``bucket_lengths`` (powers of two by
    default) below ``max_length``, then ``max_length``.

    >>> _check_bucket_lengths(None, 24)
    [1, 2, 4, 8, 16, 24]
    >>> _check_bucket_lengths((6, 8, 30), 24)
    [6, 8, 24]
    """
    if bucket_lengths is None:
        bucket_lengths = [2**k for k in range(max_length.bit_length())]
    if isinstance(bucket_lengths, str | bytes) or not all(
        isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in bucket_lengths
    ):
        raise ValueError(
            "`bucket_lengths` must be positive integers. "
            f"Received: bucket_lengths={bucket_lengths!r}"
        )
    return sorted({b for b in bucket_lengths if b < max_length}) + [max_length]


def export_char_classifier(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    labels: Sequence[str],
    vocabulary: Sequence[str],
    max_length: int = DEFAULT_MAX_LENGTH,
    bucket_lengths: Sequence[int] | None = None,
    chinese: bool = False,
    verbose: bool = False,
) -> str:
    """Writes a character-level classifier as a SavedModel that reads raw strings.

    The SavedModel has three signatures:

    - ``classify`` and ``serving_default`` (the same function): input
      ``names``, a tf.string ``(batch,)`` of UTF-8 strings; outputs
      ``label`` (tf.string ``(batch,)``, the most probable class),
      ``index`` (int32 ``(batch,)``, its position in ``labels``),
      ``probabilities`` (float32 ``(batch, len(labels))``) and
      ``truncated`` (bool ``(batch,)``: the string had more than
      ``max_length`` characters, and the answer is for its first
      ``max_length``).
    - ``labels``: no input; output ``labels``, the class names in index order.

    In the graph each string is stripped of surrounding ASCII whitespace,
    split into Unicode code points, truncated to ``max_length``, mapped to ids
    (characters outside ``vocabulary`` and invalid UTF-8 map to the OOV id
    1) and padded with 0 to the first of ``bucket_lengths`` that holds the
    batch's longest string, and the batch to a power of two rows (see
    :func:`write_classifier_archive`): each new input shape costs the fused
    kernels an XLA compilation, so a served model compiles once per bucket,
    not once per request length and size. A longer
    string is not refused: its answer is for its first ``max_length``
    characters, and its ``truncated`` output says so (``rnn-zoo predict``
    warns; ``rnn-zoo serve`` refuses strings over the limit instead). The model masks
    the padding, so a string gets the same answer alone or in a batch. No
    Unicode normalisation happens in the graph: send NFC text, as it was
    trained on (a decomposed accent maps to OOV).

    An empty (or all-whitespace) string does not fail: it becomes one padding
    step that the model masks entirely, so it gets the model's answer to "no
    evidence", the softmax of the output layer's bias (for the names model a
    near-uniform, low-confidence answer, under 10% for every language). Check
    for empty input before calling if it must be refused (``rnn-zoo
    predict`` refuses it).

    Args:
        model: a trained Keras classifier taking int32 ids ``(batch, steps)``
            with 0 as masked padding, returning probabilities
            ``(batch, len(labels))`` (e.g. :func:`rnn_zoo.build_classifier`
            with ``vocab_size``).
        filepath: the SavedModel directory to write.
        labels: the class names, in the model's output order.
        vocabulary: the characters; ``vocabulary[i]`` has id ``i + 2``, as
            :func:`rnn_zoo.data.names.encode` assigns them.
        max_length: keep at most this many characters of each string.
        bucket_lengths: the padded lengths of a batch below ``max_length``
            (then ``max_length``); by default the powers of two. The training
            pipeline's buckets (e.g. :data:`rnn_zoo.data.names.BUCKET_LENGTHS`)
            are the shapes the model has already been compiled for.
        chinese: a model of Chinese text: the export records that a string
            must hold a Chinese character (``min_han_characters=1`` in its
            :func:`rnn_zoo.serving.write_export_info`), so that ``rnn-zoo
            predict`` and ``rnn-zoo serve`` refuse text without one.
        verbose: let Keras print the exported signatures.

    Returns:
        ``filepath`` as a string.

    Example:

    >>> import tensorflow as tf
    >>> from rnn_zoo import build_classifier
    >>> model = build_classifier(2, vocab_size=6, units=4)  # 4 characters + 2
    >>> path = export_char_classifier(
    ...     model, "/tmp/rnn_zoo_export_example", labels=["English", "Italian"],
    ...     vocabulary=["R", "i", "o", "s"],
    ... )
    >>> served = tf.saved_model.load(path)
    >>> served.classify(tf.constant(["Rossi", ""]))["probabilities"].shape
    TensorShape([2, 2])
    """
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
    labels = _check_strings(labels, "labels")
    vocabulary = _check_strings(vocabulary, "vocabulary")
    if any(len(char) != 1 for char in vocabulary):
        raise ValueError(
            "`vocabulary` must hold single characters (Unicode code points). "
            f"Received: vocabulary={vocabulary!r}"
        )
    max_length = _checks.check_positive_int(max_length, "max_length")
    buckets = _check_bucket_lengths(bucket_lengths, max_length)
    num_outputs = model.output_shape[-1]
    if num_outputs != len(labels):
        raise ValueError(
            f"`labels` must name each of the model's {num_outputs} outputs. "
            f"Received: {len(labels)} labels"
        )

    table = _char_table(vocabulary, FIRST_CHAR_ID, OOV_ID)
    buckets = tf.constant(buckets, tf.int64)

    def split(names):
        names = tf.strings.strip(names)
        # errors="replace" turns invalid UTF-8 into U+FFFD, which is OOV.
        return tf.strings.unicode_split(names, "UTF-8", errors="replace")

    def truncated(names):
        return {"truncated": split(names).row_lengths() > max_length}

    def preprocess(names):
        chars = split(names)[:, :max_length]  # ragged (batch, characters)
        ids = tf.ragged.map_flat_values(table.lookup, chars)
        # At least one step, so that a batch of empty strings still has a
        # (fully masked) time axis for the recurrent layer; then the bucket.
        width = tf.maximum(tf.reduce_max(ids.row_lengths()), 1)
        width = tf.reduce_min(tf.boolean_mask(buckets, buckets >= width))
        ids = ids.to_tensor(default_value=PAD_ID, shape=tf.stack([ids.nrows(), width]))
        return tf.cast(ids, "int32")

    path = write_classifier_archive(
        model,
        filepath,
        preprocess=preprocess,
        input_signature=[tf.TensorSpec(shape=(None,), dtype=tf.string, name="names")],
        labels=labels,
        track=[table],
        extra_outputs=truncated,
        verbose=verbose,
    )
    write_export_info(
        path, max_length=max_length, **({"min_han_characters": 1} if chinese else {})
    )
    return path


def write_classifier_archive(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    preprocess,
    input_signature: list,
    labels: Sequence[str],
    track: Sequence = (),
    extra_outputs=None,
    verbose: bool = False,
) -> str:
    """Writes a classifier SavedModel with ``classify`` and ``labels`` signatures.

    ``classify`` (also ``serving_default``) runs ``preprocess`` on the
    signature's inputs, then the model, and returns ``label`` (tf.string),
    ``index`` (int32) and ``probabilities`` per example; ``labels`` lists the
    label of each probability. The model sees the batch padded with zero
    rows to a power of two (their answers are dropped): a request of each
    new size would otherwise be a new shape to compile.

    Args:
        model: a classifier with softmax outputs ``(batch, len(labels))``.
        filepath: the SavedModel directory to write.
        preprocess: a TensorFlow function from the signature's inputs to
            the model's input.
        input_signature: the ``tf.TensorSpec``s of ``classify``'s inputs.
        labels: the label names, in output order.
        track: other resources ``preprocess`` uses (lookup tables, layers).
        extra_outputs: an optional TensorFlow function from the signature's
            inputs to a dict of more ``classify`` outputs (what the
            preprocessing did, e.g. ``truncated``).
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.
    """
    import tensorflow as tf

    label_names = tf.constant(list(labels))

    def classify(*inputs):
        probabilities = _pad_rows_call(model, preprocess(*inputs))
        index = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "label": tf.gather(label_names, index),
            "index": index,
            "probabilities": probabilities,
            **(extra_outputs(*inputs) if extra_outputs is not None else {}),
        }

    _named(classify, [spec.name for spec in input_signature])

    def list_labels():
        return {"labels": label_names}

    return _write_archive(
        filepath,
        [model, *track],
        [("classify", classify, input_signature), ("labels", list_labels, [])],
        verbose,
    )


def _pad_rows_call(model, inputs):
    """``model(inputs)`` on ``inputs`` padded with zero rows to a power of two
    rows, the padding's answers dropped: a row's answer does not depend on the
    other rows in inference. ``inputs`` is a tensor or a tuple/list of
    tensors with the same rows (e.g. sequences and their timespans)."""
    import tensorflow as tf

    flat = tf.nest.flatten(inputs)
    rows = tf.shape(flat[0])[0]
    padded = tf.while_loop(lambda p: p < rows, lambda p: [p * 2], [tf.constant(1)])[0]

    def pad(tensor):
        paddings = tf.concat(
            [[[0, padded - rows]], tf.zeros((tf.rank(tensor) - 1, 2), tf.int32)], 0
        )
        padded_tensor = tf.pad(tensor, paddings)
        padded_tensor.set_shape([None, *tensor.shape[1:]])  # keep the known sizes
        return padded_tensor

    padded_inputs = tf.nest.pack_sequence_as(inputs, [pad(t) for t in flat])
    return model(padded_inputs, training=False)[:rows]


def export_char_seq2seq(
    decoding_model: keras.Model,
    filepath: str | os.PathLike,
    *,
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    first_id: int,
    unknown_id: int,
    max_source_length: int,
    signature_name: str = "decode",
    input_name: str = "inputs",
    output_name: str = "outputs",
    separator: str = " ",
    lowercase: bool = True,
    verbose: bool = False,
) -> str:
    """Writes a character-level encoder-decoder as a SavedModel over raw strings.

    Everything runs in the SavedModel's graph: each input string is stripped
    of surrounding whitespace, lowercased (Unicode-aware, with
    ``lowercase``), split into characters, looked up, padded to the longest
    in the batch; ``decoding_model`` (:func:`rnn_zoo.build_decoding_model`:
    greedy, beam search or sampling) decodes; the target ids are looked up
    and joined with ``separator``.

    The signature ``signature_name`` (also ``serving_default``) takes
    ``input_name`` (tf.string ``(batch,)``) and returns:

    - ``output_name``: tf.string ``(batch,)``, the best hypothesis;
    - ``hypotheses``: tf.string ``(batch, k)``, every hypothesis, best first
      (``k`` = the beam width, 1 for greedy and sampling);
    - ``scores``: float32 ``(batch, k)``: beam search's ranking score, or the
      log-probability;
    - ``ids``: int32 ``(batch, k, max_length)``: the decoded ids (end id
      included, 0 after it);
    - ``valid``: bool ``(batch,)``: False for an input that is empty (after
      stripping) or longer than ``max_source_length`` characters: its
      outputs are ``""``, ids 0 and scores 0, and it does not change the
      other rows' answers;
    - ``unknown``: int32 ``(batch,)``: characters outside ``source_tokens``
      (they read as ``unknown_id``, which a model never saw in training, so
      the answer is a guess; invalid UTF-8 counts as unknown).

    Args:
        decoding_model: :func:`rnn_zoo.build_decoding_model`'s model.
        filepath: the SavedModel directory to write.
        source_tokens: the character of each source id (ids below
            ``first_id`` are reserved and never looked up).
        target_tokens: the token of each target id.
        first_id: the first id of a real token, in both vocabularies.
        unknown_id: the source id of a character outside ``source_tokens``.
        max_source_length: longest input (in characters) the model accepts.
        signature_name, input_name, output_name: the serving names.
        separator: joins the target tokens of a hypothesis.
        lowercase: lowercase the inputs first.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.
    """
    import tensorflow as tf

    first_id = _checks.check_positive_int(first_id, "first_id")
    max_source_length = _checks.check_positive_int(
        max_source_length, "max_source_length"
    )
    source_tokens = list(source_tokens)
    letters = _char_table(source_tokens[first_id:], first_id, unknown_id)
    # Reserved ids read as "" and are dropped.
    targets = tf.constant([""] * first_id + list(target_tokens)[first_id:])

    def decode(strings):
        strings = tf.strings.strip(strings)
        if lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        # errors="replace" turns invalid UTF-8 into U+FFFD, an unknown character.
        chars = tf.strings.unicode_split(strings, "UTF-8", errors="replace")
        ids = tf.ragged.map_flat_values(letters.lookup, chars)
        lengths = ids.row_lengths()
        valid = (lengths > 0) & (lengths <= max_source_length)
        unknown = tf.reduce_sum(tf.cast(tf.equal(ids, unknown_id), tf.int32), axis=-1)
        # Invalid rows are decoded from all padding and blanked below: the
        # batch's width stays bounded, and at least one (masked) step exists.
        ids = tf.ragged.boolean_mask(ids, valid)
        ids = tf.RaggedTensor.from_row_lengths(
            ids.flat_values, tf.where(valid, lengths, tf.zeros_like(lengths))
        )
        width = tf.maximum(tf.reduce_max(ids.row_lengths()), 1)
        ids = ids.to_tensor(default_value=0, shape=tf.stack([ids.nrows(), width]))
        out = decoding_model(tf.cast(ids, tf.int32), training=False)
        decoded = tf.where(valid[:, None, None], out["ids"], tf.zeros_like(out["ids"]))
        scores = tf.where(valid[:, None], out["scores"], tf.zeros_like(out["scores"]))
        # One row per hypothesis: (batch * k, max_length) -> (batch, k) strings.
        flat = tf.reshape(decoded, [-1, tf.shape(decoded)[-1]])
        symbols = tf.ragged.boolean_mask(tf.gather(targets, flat), flat >= first_id)
        hypotheses = tf.reshape(
            tf.strings.reduce_join(symbols, axis=-1, separator=separator),
            tf.shape(decoded)[:2],
        )
        return {
            output_name: hypotheses[:, 0],
            "hypotheses": hypotheses,
            "scores": scores,
            "ids": decoded,
            "valid": valid,
            "unknown": unknown,
        }

    signature = [tf.TensorSpec(shape=(None,), dtype=tf.string, name=input_name)]
    filepath = _write_archive(
        filepath,
        [decoding_model, letters],
        [(signature_name, decode, signature)],
        verbose,
    )
    write_export_info(filepath, max_length=max_source_length)
    return filepath


def _char_ids(table, texts, *, pad_id: int, min_width: int = 0):
    """``(batch,)`` UTF-8 strings -> ``(characters ragged, (batch, longest) int32 ids)``."""
    import tensorflow as tf

    # errors="replace" turns invalid UTF-8 into U+FFFD, an unknown character.
    chars = tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    ids = tf.ragged.map_flat_values(table.lookup, chars)
    shape = None
    if min_width:
        # A batch of empty strings still gets a (fully masked) time axis.
        width = tf.maximum(tf.reduce_max(ids.row_lengths()), min_width)
        shape = tf.stack([ids.nrows(), tf.cast(width, tf.int64)])
    return chars, tf.cast(ids.to_tensor(default_value=pad_id, shape=shape), "int32")


def export_truecaser(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    vocabulary: Sequence[str],
    upper_threshold: float = 0.5,
    verbose: bool = False,
) -> str:
    """Writes a character tagger that truecases as a SavedModel over raw strings.

    The tagger reads lower-cased character ids and tags each character with
    the ids and tags of :mod:`rnn_zoo.data.austen` (0 padding, 1 lower, 2
    upper). Signature ``truecase`` (also ``serving_default``): input
    ``texts``, tf.string ``(batch,)`` UTF-8; outputs ``truecased``
    (tf.string ``(batch,)``) and ``probabilities`` (float32 ``(batch,
    longest text, 3)``, rows padded like the model's input). In the graph
    each text is lower-cased, split into characters, looked up (unknown ->
    id 1) and padded; a character becomes upper case when "upper" has more
    than ``upper_threshold`` of the probability of "upper" and "lower"
    together (0.5: when it is the likelier). The model masks padding, so a text gets
    the same answer alone or in a batch. Texts are not truncated.

    Args:
        model: a trained :func:`rnn_zoo.build_tagger` model with 3 tags.
        filepath: the SavedModel directory to write.
        vocabulary: the lower-cased characters; ``vocabulary[i]`` has id
            ``i + 4`` (``AustenData.lower_vocabulary``).
        upper_threshold: in ``(0, 1)``; a lower one finds more capitals.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.

    Example:

    >>> import tensorflow as tf
    >>> from rnn_zoo import build_tagger
    >>> model = build_tagger(3, vocab_size=7, units=4)  # 3 characters + 4
    >>> path = export_truecaser(model, "/tmp/rnn_zoo_truecaser", vocabulary=["a", "b", " "])
    >>> served = tf.saved_model.load(path)
    >>> out = served.truecase(tf.constant(["ab A", ""]))
    >>> out["truecased"].numpy()[0].decode().lower(), out["probabilities"].shape
    ('ab a', TensorShape([2, 4, 3]))
    """
    import tensorflow as tf

    from rnn_zoo.data import austen

    vocabulary = _check_strings(vocabulary, "vocabulary")
    if not isinstance(upper_threshold, (int, float)) or not 0 < upper_threshold < 1:
        raise ValueError(
            "`upper_threshold` must be a number in (0, 1). Received: "
            f"upper_threshold={upper_threshold!r}"
        )
    table = _char_table(vocabulary, austen.FIRST_CHAR_ID, austen.UNK_ID)

    def truecase(texts):
        lower = tf.strings.lower(texts, encoding="utf-8")
        chars, ids = _char_ids(table, lower, pad_id=austen.PAD_ID, min_width=1)
        probabilities = model(ids, training=False)
        p_upper = probabilities[..., austen.TAG_UPPER]
        p_cased = p_upper + probabilities[..., austen.TAG_LOWER]
        upper = p_upper > float(upper_threshold) * p_cased
        upper = tf.RaggedTensor.from_tensor(upper, lengths=chars.row_lengths())
        recased = tf.where(
            upper.flat_values,
            tf.strings.upper(chars.flat_values, encoding="utf-8"),
            chars.flat_values,
        )
        return {
            "truecased": tf.strings.reduce_join(
                chars.with_flat_values(recased), axis=1
            ),
            "probabilities": probabilities,
        }

    signature = [tf.TensorSpec(shape=(None,), dtype=tf.string, name="texts")]
    return _write_archive(
        filepath, [model, table], [("truecase", truecase, signature)], verbose
    )


# export_char_tagger's `chunks`: each names the reading and the output it fills.
CHUNKS = ("entities", "words")


def _check_chunk_tags(tags: Sequence[str], chunks: str) -> list[str]:
    """The chunk types of BIO ``tags`` (``O``, ``B-X``, ``I-X``), in order."""
    bad = [t for t in tags if t != "O" and not t.startswith(("B-", "I-"))]
    if chunks == "words":
        bad += [t for t in tags if t == "O"]
    if bad:
        allowed = "B-X or I-X" if chunks == "words" else "O, B-X or I-X"
        raise ValueError(
            f"`chunks={chunks!r}` reads BIO tags: `tags` must each be {allowed}. "
            f"Received: {sorted(set(bad))}"
        )
    return sorted({t[2:] for t in tags if t != "O"})


def _chunks(best, real, chars, tags: Sequence[str], chunks: str):
    """``(batch,)`` strings ``"span/TYPE span/TYPE ..."`` of the BIO chunks of tag ids ``best``.

    ``chunks="entities"`` reads as CoNLL's conlleval does: a chunk starts at
    ``B-X``, or at ``I-X`` after anything but ``X``, and ``O`` characters
    are left out. ``chunks="words"``: every character is in a word, a word
    starts at each ``B-`` (and at the text's first character) and takes its
    first character's type.
    """
    import tensorflow as tf

    kinds = _check_chunk_tags(tags, chunks)
    kind_of = tf.constant(
        [0, *(0 if t == "O" else 1 + kinds.index(t[2:]) for t in tags)]
    )
    begins = tf.constant([False, *(t.startswith("B-") for t in tags)])
    kind, begin = tf.gather(kind_of, best), tf.gather(begins, best)
    if chunks == "entities":
        previous = tf.pad(kind[:, :-1], [[0, 0], [1, 0]])
        inside = kind > 0
        start = inside & (begin | (previous != kind))
    else:
        inside = real
        first = tf.range(tf.shape(best)[1])[None] == 0
        start = real & (begin | first)
        # Each character takes the type of its word's first character.
        number = tf.cumsum(tf.cast(start, tf.int32), axis=1)
        starts = tf.ragged.boolean_mask(kind, start).to_tensor()
        kind = tf.gather(starts, tf.maximum(number - 1, 0), batch_dims=1)
    after = tf.pad(start[:, 1:], [[0, 0], [0, 1]], constant_values=True)
    still = tf.pad(inside[:, 1:], [[0, 0], [0, 1]], constant_values=False)
    end = inside & (after | ~still)
    padded = chars.to_tensor(default_value="", shape=tf.shape(best, out_type=tf.int64))
    labels = "/" + tf.gather(tf.constant(["", *kinds]), kind) + " "
    pieces = tf.where(inside, padded, "") + tf.where(end, labels, "")
    return tf.strings.strip(tf.strings.reduce_join(pieces, axis=1))


def export_char_tagger(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    vocabulary: Sequence[str],
    tags: Sequence[str],
    first_id: int,
    unknown_id: int,
    pad_id: int = 0,
    word_end_tags: Sequence[str] = (),
    chunks: str | None = None,
    require_chinese: bool = False,
    verbose: bool = False,
) -> str:
    """Writes a character tagger, softmax or CRF, as a SavedModel over raw strings.

    The model reads character ids and gives, for the padding tag (id 0) and
    the tags (``tags[j]`` has id ``j + 1``), probabilities (a softmax
    :func:`rnn_zoo.build_tagger`) or potentials (``build_tagger(...,
    crf=True)``, a :class:`rnn_zoo.layers.CRFModel`). Signatures, each with
    the input ``texts``, tf.string ``(batch,)`` UTF-8:

    - ``tag`` (also ``serving_default``): output ``tags`` (tf.string
      ``(batch, longest text)``, ``""`` on padding): each character's
      likeliest tag, or for a CRF its tag on the Viterbi path, run in the
      graph (:func:`rnn_zoo.models.tagger.best_tags`: the padding tag is
      never chosen); with ``word_end_tags`` also ``words`` (tf.string
      ``(batch,)``: the text with a space after each character whose tag ends
      a word, as B/M/E/S segmentation reads ``E`` and ``S``); with ``chunks``
      also the chunks of BIO tags, tf.string ``(batch,)`` ``"span/TYPE"``
      separated by spaces: ``chunks="entities"`` outputs ``entities`` read as
      CoNLL's conlleval reads them (``江泽民/PER 北京/LOC``; ``O`` characters
      left out), ``chunks="words"`` outputs ``words`` where a word starts at
      each ``B-`` tag and takes its first character's type (joint
      segmentation and part of speech: ``迈向/v 新/a 世纪/n``);
    - ``probabilities`` (softmax) or ``potentials`` (CRF): the model's
      float32 ``(batch, longest text, len(tags) + 1)`` output of that name.

    Unknown characters read as
    ``unknown_id``; texts are not truncated. With ``require_chinese`` a text
    without a Chinese character (CJK ideograph), an empty one included, is
    refused with ``InvalidArgumentError`` naming ``texts``.

    Args:
        model: a trained :func:`rnn_zoo.build_tagger` model (softmax or
            CRF) with ``len(tags) + 1`` outputs.
        filepath: the SavedModel directory to write.
        vocabulary: the characters; ``vocabulary[i]`` has id ``first_id + i``.
        tags: the tag names.
        first_id, unknown_id, pad_id: the ids of ``vocabulary[0]``, of an
            unknown character and of padding.
        word_end_tags: the tags after which a word ends (``("E", "S")``).
        chunks: ``None``, ``"entities"`` or ``"words"``: read the BIO
            ``tags`` as chunks into the output of that name (see above).
        require_chinese: refuse texts without a Chinese character.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.

    Example:

    >>> import tensorflow as tf
    >>> from rnn_zoo import build_tagger
    >>> model = build_tagger(5, vocab_size=4, units=4)  # padding + B M E S
    >>> path = export_char_tagger(model, "/tmp/rnn_zoo_char_tagger",
    ...     vocabulary=["中", "国"], tags=["B", "M", "E", "S"], first_id=2,
    ...     unknown_id=1, word_end_tags=["E", "S"], require_chinese=True)
    >>> served = tf.saved_model.load(path)
    >>> out = served.tag(tf.constant(["中国", "国"]))
    >>> out["tags"].shape, sorted(out)
    (TensorShape([2, 2]), ['tags', 'words'])
    >>> served.probabilities(tf.constant(["中国"]))["probabilities"].shape
    TensorShape([1, 2, 5])
    >>> crf = build_tagger(5, vocab_size=4, units=4, crf=True)  # Viterbi in the graph
    >>> path = export_char_tagger(crf, "/tmp/rnn_zoo_crf_tagger",
    ...     vocabulary=["中", "国"], tags=["B", "M", "E", "S"], first_id=2,
    ...     unknown_id=1, word_end_tags=["E", "S"])
    >>> served = tf.saved_model.load(path)
    >>> served.tag(tf.constant(["中国"]))["tags"].shape, hasattr(served, "potentials")
    (TensorShape([1, 2]), True)
    """
    import tensorflow as tf

    from rnn_zoo.layers.crf import CRFModel
    from rnn_zoo.models.tagger import best_tags

    vocabulary = _check_strings(vocabulary, "vocabulary")
    tags = _check_strings(tags, "tags")
    if model.output_shape[-1] != len(tags) + 1:
        raise ValueError(
            f"`tags` must name every output of the model but padding: "
            f"{model.output_shape[-1] - 1} tags. Received {len(tags)}: tags={tags!r}"
        )
    ends = [tag for tag in word_end_tags if tag not in tags]
    if ends:
        raise ValueError(
            f"`word_end_tags` must be among `tags` {tags}. Received: {list(word_end_tags)}"
        )
    if chunks is not None:
        if chunks not in CHUNKS:
            raise ValueError(
                f'`chunks` must be None, "entities" or "words". Received: chunks={chunks!r}'
            )
        if word_end_tags:
            raise ValueError(
                "`chunks` and `word_end_tags` both fill a text output: give one. "
                f"Received: chunks={chunks!r}, word_end_tags={list(word_end_tags)}"
            )
        _check_chunk_tags(tags, chunks)
    table = _char_table(vocabulary, first_id, unknown_id)
    names = tf.constant(["", *tags])
    is_end = tf.constant([False, *(tag in word_end_tags for tag in tags)])

    def read(texts):
        if require_chinese:
            chinese = tf.strings.regex_full_match(texts, r"(?s).*\p{Han}.*")
            refused = tf.boolean_mask(texts, tf.logical_not(chinese))
            tf.debugging.Assert(
                tf.reduce_all(chinese),
                [
                    "`texts` must each hold at least one Chinese character. "
                    "Received texts without one: ["
                    + tf.strings.reduce_join("'" + refused + "'", separator=", ")
                    + "]"
                ],
            )
        chars, ids = _char_ids(table, texts, pad_id=pad_id, min_width=1)
        return chars, ids, model(ids, training=False)

    def tag(texts):
        chars, ids, outputs = read(texts)
        best = best_tags(model, outputs, ids != pad_id)
        outputs = {"tags": tf.gather(names, best)}
        if word_end_tags:
            ends = tf.RaggedTensor.from_tensor(
                tf.gather(is_end, best), lengths=chars.row_lengths()
            )
            spaced = tf.where(
                ends.flat_values, chars.flat_values + " ", chars.flat_values
            )
            words = tf.strings.reduce_join(chars.with_flat_values(spaced), axis=1)
            outputs["words"] = tf.strings.strip(words)
        if chunks:
            real = ids != pad_id
            outputs[chunks] = _chunks(best, real, chars, tags, chunks)
        return outputs

    output = "potentials" if isinstance(model, CRFModel) else "probabilities"

    def scores(texts):
        return {output: read(texts)[2]}

    signature = [tf.TensorSpec(shape=(None,), dtype=tf.string, name="texts")]
    endpoints = [("tag", tag, signature), (output, scores, signature)]
    return _write_archive(filepath, [model, table], endpoints, verbose)


def export_char_generator(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    vocabulary: Sequence[str],
    first_id: int,
    unknown_id: int,
    start_id: int,
    end_id: int,
    max_length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    pad_id: int = 0,
    verbose: bool = False,
) -> str:
    """Writes a character language model as a SavedModel that continues raw strings.

    Signatures:

    - ``generate`` (also ``serving_default``): input ``prompts``, tf.string
      ``(batch,)``; output ``continuation``, tf.string ``(batch,)``:
      ``max_length`` characters sampled after each prompt (shorter only if
      the model picks ``end_id``). The Gumbel noise is drawn from the fixed
      ``seed`` once and shared by the rows, so a prompt always gets the same
      continuation, alone or in any batch, and the one
      ``rnn_zoo.generate(model, prompt=[ids], seed=seed, ...)`` gives it.
    - ``next_char_logits``: input ``prefixes``, tf.string ``(batch,)``;
      output ``logits``, float32 ``(batch, vocab_size)``: the logits of the
      character after each prefix.
    - ``vocabulary``: no input; output ``characters``: the character of each
      logit (``""`` for reserved ids, U+FFFD for ``unknown_id``).

    Each string is read after ``start_id`` (:func:`rnn_zoo.decoding.read_prompt`);
    characters outside ``vocabulary`` (and invalid UTF-8) read as
    ``unknown_id``; prompts are not truncated. Sampling is
    :func:`rnn_zoo.decoding.decode_loop` with
    :func:`rnn_zoo.decoding.sample_logits`.

    Args:
        model: a trained :func:`rnn_zoo.build_generator` model (unconditioned).
        filepath: the SavedModel directory to write.
        vocabulary: the characters; ``vocabulary[i]`` has id ``first_id + i``.
        first_id: the id of ``vocabulary[0]``; ids below it are reserved.
        unknown_id, start_id, end_id, pad_id: the reserved ids.
        max_length: characters to sample per prompt.
        temperature, top_k: as in :func:`rnn_zoo.generate`.
        seed: fixes the samples.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.

    Example:

    >>> import tensorflow as tf
    >>> from rnn_zoo import build_generator
    >>> model = build_generator(6, units=4)  # 2 characters + 4 reserved ids
    >>> path = export_char_generator(
    ...     model, "/tmp/rnn_zoo_char_lm", vocabulary=["a", "b"], first_id=4,
    ...     unknown_id=1, start_id=2, end_id=3, max_length=5, seed=0)
    >>> served = tf.saved_model.load(path)
    >>> served.next_char_logits(tf.constant(["ab", ""]))["logits"].shape
    TensorShape([2, 6])
    """
    import tensorflow as tf

    from rnn_zoo.decoding import decode_loop, read_prompt, sample_logits, step_decoder
    from rnn_zoo.decoding.sampling import gumbel_noise

    vocabulary = _check_strings(vocabulary, "vocabulary")
    max_length = _checks.check_positive_int(max_length, "max_length")
    steps = step_decoder(model)
    table = _char_table(vocabulary, first_id, unknown_id)
    vocab_size = first_id + len(vocabulary)
    reserved = ["\ufffd" if i == unknown_id else "" for i in range(first_id)]
    characters = tf.constant(reserved + vocabulary)

    def read(texts):
        _, ids = _char_ids(table, texts, pad_id=pad_id)
        batch = tf.shape(ids)[0]
        logits, states = steps.step(
            tf.fill([batch], start_id), steps.initial_states(batch)
        )
        return read_prompt(steps, states, logits, ids, pad_id=pad_id)

    def continue_prompts(prompts):
        logits, states = read(prompts)
        # One draw, a batch axis of 1 broadcast to every row: the draw
        # rnn_zoo.generate makes for a batch of one.
        noise = gumbel_noise((max_length, 1, vocab_size), seed)

        def select(logits, i):
            return sample_logits(
                logits,
                temperature=temperature,
                top_k=top_k,
                noise=tf.gather(noise, i, axis=0),
            )

        ids = decode_loop(
            steps,
            states,
            logits,
            max_length=max_length,
            end_id=end_id,
            select=select,
            banned=(pad_id, start_id),
        )
        return {
            "continuation": tf.strings.reduce_join(tf.gather(characters, ids), axis=1)
        }

    def next_char_logits(prefixes):
        return {"logits": read(prefixes)[0]}

    def list_vocabulary():
        return {"characters": characters}

    def strings(name):
        return [tf.TensorSpec(shape=(None,), dtype=tf.string, name=name)]

    return _write_archive(
        filepath,
        [model, table],
        [
            ("generate", continue_prompts, strings("prompts")),
            ("next_char_logits", next_char_logits, strings("prefixes")),
            ("vocabulary", list_vocabulary, []),
        ],
        verbose,
    )


def export_conditioned_generator(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    conditions: Sequence[str],
    tokens: Sequence[str],
    first_id: int,
    start_id: int,
    end_id: int,
    max_length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    pad_id: int = 0,
    condition_name: str = "conditions",
    output_name: str = "sequences",
    verbose: bool = False,
) -> str:
    """Writes a class-conditioned character generator as a SavedModel over class names.

    Signatures:

    - ``generate`` (also ``serving_default``): inputs ``condition_name``
      (tf.string ``(batch,)``, names from ``conditions``) and ``seed`` (int32
      scalar, in ``[0, 2**31 - 2]``); output ``output_name`` (tf.string
      ``(batch,)``): one sampled string per row, the characters before the
      end id. The same names and seed give the same strings, and the same
      as ``rnn_zoo.generate(model, condition=..., seed=seed, ...)`` on the
      Keras model; as there, the seed fixes the draws of the whole batch, so
      a row's answer also depends on the batch size and its position.
    - ``condition_name``: no input; output ``condition_name``, the names
      accepted.

    An unknown name fails the call (``InvalidArgumentError`` that lists the
    accepted ones).

    Args:
        model: a trained :func:`rnn_zoo.build_generator` model with
            ``num_conditions=len(conditions)``.
        filepath: the SavedModel directory to write.
        conditions: the class names, in condition-id order.
        tokens: the token of each id; ids below ``first_id`` read as ``""``.
        first_id: the first id of a real character.
        start_id, end_id, pad_id: the reserved ids.
        max_length: most tokens to sample per row (the end id included).
        temperature, top_k: as in :func:`rnn_zoo.generate`.
        condition_name, output_name: the serving names.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.

    Example:

    >>> import tensorflow as tf
    >>> from rnn_zoo import build_generator
    >>> model = build_generator(6, num_conditions=2, units=4)
    >>> path = export_conditioned_generator(
    ...     model, "/tmp/rnn_zoo_cond_gen", conditions=["x", "y"],
    ...     tokens=["<pad>", "<s>", "</s>", "<unk>", "a", "b"], first_id=4,
    ...     start_id=1, end_id=2, max_length=6)
    >>> served = tf.saved_model.load(path)
    >>> served.generate(conditions=tf.constant(["y", "x"]), seed=tf.constant(0))["sequences"].shape
    TensorShape([2])
    """
    import tensorflow as tf

    from rnn_zoo.decoding import decode_loop, sample_logits, step_decoder

    known = _check_strings(conditions, "conditions")
    tokens = list(tokens)
    max_length = _checks.check_positive_int(max_length, "max_length")
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(known), tf.range(len(known), dtype=tf.int64)
        ),
        default_value=-1,
    )
    characters = tf.constant([""] * first_id + tokens[first_id:])
    names = tf.constant(known)
    steps = step_decoder(model)
    vocab_size = len(tokens)

    def generate_strings(*inputs):
        condition_names, seed = inputs
        condition = table.lookup(condition_names)
        tf.debugging.assert_non_negative(
            condition,
            message=f"unknown {condition_name}; expected one of " + ", ".join(known),
        )
        condition = tf.cast(condition, tf.int32)
        batch = tf.shape(condition)[0]
        states = steps.initial_states(batch, condition)
        logits, states = steps.step(tf.fill([batch], start_id), states)
        # The Gumbel noise rnn_zoo.generate draws for an integer seed.
        uniform = tf.random.stateless_uniform(
            [max_length, batch, vocab_size],
            seed=tf.stack([seed, 0]),
            minval=1e-7,
            maxval=1.0,
        )
        noise = -tf.math.log(-tf.math.log(uniform))

        def select(logits, i):
            return sample_logits(
                logits, temperature=temperature, top_k=top_k, noise=noise[i]
            )

        ids = decode_loop(
            steps,
            states,
            logits,
            max_length=max_length,
            end_id=end_id,
            select=select,
            banned=(pad_id, start_id),
        )
        # Characters before the end id: ids after it are 0, reserved ids read "".
        before_end = tf.cumsum(tf.cast(ids == end_id, tf.int32), axis=1) == 0
        ids = tf.where(before_end, ids, tf.zeros_like(ids))
        return {
            output_name: tf.strings.reduce_join(tf.gather(characters, ids), axis=-1)
        }

    def list_conditions():
        return {condition_name: names}

    signature = [
        tf.TensorSpec(shape=(None,), dtype=tf.string, name=condition_name),
        tf.TensorSpec(shape=(), dtype=tf.int32, name="seed"),
    ]
    generate = _named(generate_strings, [condition_name, "seed"])
    return _write_archive(
        filepath,
        [model, table],
        [("generate", generate, signature), (condition_name, list_conditions, [])],
        verbose,
    )


def export_seq2seq(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    beam_width: int = 1,
    length_penalty: float = 0.0,
    max_length: int,
    start_id: int,
    end_id: int,
    **options,
) -> str:
    """Writes a trained character-level encoder-decoder that decodes in its graph.

    :func:`rnn_zoo.build_decoding_model` wraps ``model`` (beam search of
    ``beam_width`` with ``length_penalty``, greedy decoding for 1; at most
    ``max_length`` target tokens from ``start_id`` to ``end_id``), and
    :func:`export_char_seq2seq` writes it with ``options`` (its vocabularies
    and serving names).

    Returns:
        ``filepath`` as a string.
    """
    from rnn_zoo.decoding import build_decoding_model

    decoding = build_decoding_model(
        model,
        method="beam" if beam_width > 1 else "greedy",
        beam_width=beam_width,
        length_penalty=length_penalty,
        max_length=max_length,
        start_id=start_id,
        end_id=end_id,
    )
    return export_char_seq2seq(decoding, filepath, **options)


def export_frames_classifier(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    labels: Sequence[str],
    num_features: int,
    preprocess,
    verbose: bool = False,
) -> str:
    """Writes a classifier of float frame sequences as a SavedModel over raw frames.

    ``classify`` (also ``serving_default``) takes ``frames`` float32
    ``(batch, time, num_features)`` (rows right-padded with any value) and
    ``lengths`` int32 ``(batch,)`` (the frames used per row), runs
    ``preprocess(frames, lengths)`` (e.g. standardization and padding, the
    same function the training pipeline uses) and the model, and returns
    ``label``, ``index`` and ``probabilities``; ``labels`` lists the labels
    (:func:`write_classifier_archive`).

    Args:
        model: a classifier with softmax outputs ``(batch, len(labels))``.
        filepath: the SavedModel directory to write.
        labels: the label names, in output order.
        num_features: the size of a frame.
        preprocess: TensorFlow function ``(frames, lengths) -> model input``.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.
    """
    import tensorflow as tf

    num_features = _checks.check_positive_int(num_features, "num_features")
    return write_classifier_archive(
        model,
        filepath,
        preprocess=preprocess,
        input_signature=[
            tf.TensorSpec((None, None, num_features), tf.float32, name="frames"),
            tf.TensorSpec((None,), tf.int32, name="lengths"),
        ],
        labels=labels,
        verbose=verbose,
    )


def export_text_classifier(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    labels: Sequence[str],
    vectorizer: keras.layers.TextVectorization,
    verbose: bool = False,
) -> str:
    """Writes a word-level classifier as a SavedModel that reads raw text.

    ``classify`` (also ``serving_default``) takes ``texts``, tf.string
    ``(batch,)``, turns them into word ids with ``vectorizer`` in the graph,
    runs the model and returns ``label``, ``index`` and ``probabilities``;
    ``labels`` lists the labels (:func:`write_classifier_archive`). A text of
    more words than the vectorizer's ``output_sequence_length`` is read for
    its first words only, and ``truncated`` (bool ``(batch,)``) says so. An
    empty text is all padding, which the model masks entirely: it gets the
    softmax of the output layer's bias (the model's prior).

    Args:
        model: a classifier from int32 word ids to softmax outputs
            ``(batch, len(labels))``.
        filepath: the SavedModel directory to write.
        labels: the label names, in output order.
        vectorizer: the ``TextVectorization`` the model was trained behind
            (its vocabulary; a custom ``standardize`` must be a TensorFlow
            function).
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.
    """
    import tensorflow as tf

    def preprocess(texts):
        return tf.cast(vectorizer(texts), tf.int32)  # (batch, sequence_length)

    limit = vectorizer.get_config().get("output_sequence_length")
    track = [vectorizer]
    truncated = None
    if limit:
        # The same vectorizer without the cut: every word gets an id >= 1
        # (unknown words the OOV id), so the nonzero ids count the words.
        # (The constructor, not from_config: a custom standardize is a
        # function object that from_config cannot read back.)
        config = {**vectorizer.get_config(), "output_sequence_length": None}
        config.pop("vocabulary", None)
        config["name"] = f"{vectorizer.name}_word_count"
        counter = keras.layers.TextVectorization(**config)
        counter.set_vocabulary(vectorizer.get_vocabulary())
        counter.build((None,))
        track.append(counter)

        def truncated(texts):
            words = tf.math.count_nonzero(counter(texts), axis=1)
            return {"truncated": words > limit}

    # The vectorizer's lookup table must be saved with the graph; ExportArchive
    # tracks built layers only.
    vectorizer.build((None,))
    return write_classifier_archive(
        model,
        filepath,
        preprocess=preprocess,
        input_signature=[tf.TensorSpec(shape=(None,), dtype=tf.string, name="texts")],
        labels=labels,
        track=track,
        extra_outputs=truncated,
        verbose=verbose,
    )


def export_forecaster(
    model: keras.Model,
    filepath: str | os.PathLike,
    *,
    window: int,
    normalize=None,
    denormalize=None,
    verbose: bool = False,
) -> str:
    """Writes a forecaster as a SavedModel that reads raw history in its own units.

    The signature ``forecast`` (also ``serving_default``) takes ``history``,
    float32 ``(batch, window)`` (the last ``window`` values, oldest first),
    and returns ``forecast``, float32 ``(batch, horizon)``, in the same units.
    The scaling runs in the graph: ``normalize(history)`` gives the model's
    input and a per-row state (e.g. each window's anchor), and
    ``denormalize(outputs, state)`` turns the model's output back.

    Args:
        model: a forecaster from ``(batch, window, 1)`` to
            ``(batch, horizon, 1)`` (:func:`rnn_zoo.build_forecaster`).
        filepath: the SavedModel directory to write.
        window: history steps in.
        normalize: TensorFlow function ``history -> (inputs, state)``;
            ``None``: no scaling.
        denormalize: TensorFlow function ``(outputs, state) -> forecast``;
            ``None``: no scaling.
        verbose: print ExportArchive's summary.

    Returns:
        ``filepath`` as a string.

    Example:

    >>> import tensorflow as tf
    >>> from rnn_zoo import build_forecaster
    >>> model = build_forecaster(3, window=8, units=4)
    >>> path = export_forecaster(model, "/tmp/rnn_zoo_forecaster_example", window=8)
    >>> served = tf.saved_model.load(path)
    >>> served.forecast(tf.zeros((2, 8)))["forecast"].shape
    TensorShape([2, 3])
    """
    import tensorflow as tf

    window = _checks.check_positive_int(window, "window")
    if normalize is None:

        def normalize(history):
            return history[:, :, None], None

    if denormalize is None:

        def denormalize(outputs, state):
            del state
            return outputs[:, :, 0]

    def forecast(history):
        inputs, state = normalize(history)
        outputs = model(inputs, training=False)
        return {"forecast": denormalize(outputs, state)}

    signature = [tf.TensorSpec((None, window), tf.float32, name="history")]
    return _write_archive(
        filepath, [model], [("forecast", forecast, signature)], verbose
    )
