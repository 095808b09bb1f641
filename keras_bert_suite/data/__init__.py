"""Fine-tuning data: `tf.data` pipelines tokenized in the graph (`TFBertTokenizer`), batched, optionally
bucketed by length, with the labels inside each dict so the models train with their own loss.

- `glue`: sequence classification, single sentences and pairs (GLUE TSV, CSV, JSON lines).
- `ner`: token classification from CoNLL column files (labels on the first word piece).
- `squad`: extractive QA windows with answer positions; `predict_answers` maps logits back to text.
- `multiple_choice`: SWAG / PIQA style, inputs [batch, choices, length].
- `tfds`: the same from tensorflow-datasets (`glue/sst2`, `conll2003`, `squad`, ...).
- `files`: the local readers; `bucketing`: padding and length buckets with static shapes.

Example:
    >>> from keras_bert_suite.data import load_glue_file
    >>> ds = load_glue_file("sst2/train.tsv", "path/to/model", task="sst2", batch_size=32,
    ...                     bucket_boundaries=[32, 64], max_length=128)
    >>> model.compile(optimizer="adam"); model.fit(ds)
"""

from keras_bert_suite.data.bucketing import batch_examples
from keras_bert_suite.data.files import conll_labels, read_conll, read_squad, read_table
from keras_bert_suite.data.glue import GLUE_TASKS, GlueTask, classification_dataset, classification_examples, \
    glue_task, load_glue_file
from keras_bert_suite.data.multiple_choice import load_multiple_choice_file, multiple_choice_dataset, \
    multiple_choice_examples
from keras_bert_suite.data.ner import CONLL2003_LABELS, load_conll_file, ner_dataset
from keras_bert_suite.data.pipeline import graph_tokenizer, model_inputs
from keras_bert_suite.data.squad import load_squad_file, predict_answers, squad_dataset, squad_examples
from keras_bert_suite.data.tfds import load_tfds

__all__ = [
    "CONLL2003_LABELS", "GLUE_TASKS", "GlueTask", "batch_examples", "classification_dataset",
    "classification_examples", "conll_labels", "glue_task", "graph_tokenizer", "load_conll_file", "load_glue_file",
    "load_multiple_choice_file", "load_squad_file", "load_tfds", "model_inputs", "multiple_choice_dataset",
    "multiple_choice_examples", "ner_dataset", "predict_answers", "read_conll", "read_squad", "read_table",
    "squad_dataset", "squad_examples",
]
