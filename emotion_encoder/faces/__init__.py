"""Faces: model files, detectors (BlazeFace, MTCNN), dominant- and multi-face tracking, crops."""

from emotion_encoder.faces.ahead import DetectorPool, keyframe_detections
from emotion_encoder.faces.blazeface_litert import LiteRTBlazeFace
from emotion_encoder.faces.detectors import (BlazeFaceDetector, Detector, FaceDetection,
                                             MTCNNDetector, box_iou, make_detector)
from emotion_encoder.faces.multi_tracking import (FaceFrame, MultiFaceTracker, MultiTrackedFrame,
                                                  TrackedFace, iter_multi_face_crops)
from emotion_encoder.faces.model_files import cache_dir, fetch_models, model_path, model_status
from emotion_encoder.faces.tracking import (DominantFaceTracker, FaceCrop, TrackedFrame,
                                            crop_face, iter_face_crops, square_box)

__all__ = ["BlazeFaceDetector", "Detector", "DetectorPool", "DominantFaceTracker", "FaceCrop",
           "FaceDetection", "FaceFrame", "LiteRTBlazeFace", "MTCNNDetector", "MultiFaceTracker",
           "MultiTrackedFrame", "TrackedFace", "TrackedFrame", "box_iou", "cache_dir",
           "crop_face", "fetch_models", "iter_face_crops", "iter_multi_face_crops",
           "keyframe_detections", "make_detector", "model_path", "model_status", "square_box"]
