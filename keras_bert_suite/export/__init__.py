"""Export: raw-text SavedModels for TF Serving (`export_saved_model`), ONNX (`export_onnx`), and raw-text LiteRT
(TFLite) models with the tokenizer inside (`export_litert`)."""

from keras_bert_suite.export.litert import export_litert
from keras_bert_suite.export.onnx import export_onnx
from keras_bert_suite.export.saved_model import export_saved_model, next_version
from keras_bert_suite.export.signatures import TASKS, ExportOptions, task_of
