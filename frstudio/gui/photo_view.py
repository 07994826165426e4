"""The photo view: the photo (or its restored version, or both under a swipe line) with every face outlined.

Scene coordinates are the photo's own pixels, so face boxes from the engine are placed as they are and a box
drawn by the user comes back in photo pixels. Each image is shown as a scaled copy (images.DISPLAY_MAX_SIDE);
when the user zooms in past it, a full-resolution tile of just the visible region is laid on top, so a 50 MP
scan costs a ~5 MP pixmap plus one screenful. The scratches and dust found can be laid over it, as a see-through
red layer of the same display size, and painted by hand with a round brush whose strokes come back in photo pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QLineF, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QRubberBand,
)

from frstudio.core.imageio import to_uint8
from frstudio.gui.images import to_pixmap

INCLUDED = QColor("#4cd964")
EXCLUDED = QColor("#9a9a9a")
WARNING = QColor("#ff9f0a")
SELECTED = QColor("#ffd60a")
MARK = QColor(255, 59, 48)  # the damage brush: red like the marks layer (images.marks_layer) ...
UNMARK = QColor(52, 199, 89)  # ... and green for "not damage"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}


class FaceOutline(QGraphicsRectItem):
    """A face's box and number. Pens are cosmetic and the label ignores zoom, so both stay readable at any scale."""

    def __init__(self, index: int, box):
        x0, y0, x1, y1 = box
        super().__init__(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.index = index
        self.tag = QGraphicsRectItem(self)
        self.tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.tag.setPos(x0, y0)
        self.label = QGraphicsSimpleTextItem(str(index + 1), self.tag)
        font = QFont()
        font.setPixelSize(13)
        font.setBold(True)
        self.label.setFont(font)
        w = self.label.boundingRect().width() + 8
        self.tag.setRect(QRectF(0, -20, w, 20))
        self.label.setPos(4, -19)
        self.tag.setPen(QPen(Qt.PenStyle.NoPen))
        self.set_state(True, False, False)

    def set_state(self, included: bool, selected: bool, warning: bool) -> None:
        colour = SELECTED if selected else WARNING if warning and included else INCLUDED if included else EXCLUDED
        pen = QPen(colour, 3 if selected else 2)
        pen.setCosmetic(True)
        if not included:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.tag.setBrush(QBrush(colour))
        self.label.setBrush(QBrush(QColor("#111111")))


class _Layer:
    """One image (before or after): a scaled pixmap plus, when zoomed in, a full-resolution tile."""

    def __init__(self, parent: QGraphicsItem):
        self.base = QGraphicsPixmapItem(parent)
        self.base.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.detail = QGraphicsPixmapItem(parent)
        self.detail.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.full: np.ndarray | None = None

    def set_image(self, full: np.ndarray | None, display: QPixmap | None) -> None:
        self.full = full
        self.detail.setVisible(False)
        if full is None or display is None:
            self.base.setPixmap(QPixmap())
            self.base.setVisible(False)
            return
        self.base.setPixmap(display)
        self.base.setScale(full.shape[1] / display.width())
        self.base.setVisible(True)

    def update_detail(self, visible: QRectF, screen: QSize, zoom: float) -> None:
        """Show full-resolution pixels for `visible` (photo pixels) when the scaled copy would be magnified
        (`zoom`: screen pixels per photo pixel)."""
        if self.full is None or zoom * self.base.scale() <= 1.05:
            self.detail.setVisible(False)
            return
        h, w = self.full.shape[:2]
        x0, y0 = max(0, int(visible.left())), max(0, int(visible.top()))
        x1, y1 = min(w, int(np.ceil(visible.right())) + 1), min(h, int(np.ceil(visible.bottom())) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            self.detail.setVisible(False)
            return
        region = to_uint8(self.full[y0:y1, x0:x1])
        # Never more pixels than the screen shows: a zoomed-out region is shrunk to the viewport's size.
        shrink = min(1.0, screen.width() / (x1 - x0), screen.height() / (y1 - y0))
        if shrink < 1.0:
            region = cv2.resize(region, (max(1, round((x1 - x0) * shrink)), max(1, round((y1 - y0) * shrink))), interpolation=cv2.INTER_AREA)
        self.detail.setPixmap(to_pixmap(region))
        self.detail.setPos(x0, y0)
        self.detail.setScale((x1 - x0) / region.shape[1])
        self.detail.setVisible(True)


class PhotoView(QGraphicsView):
    faceClicked = Signal(int)
    boxDrawn = Signal(tuple)  # (x0, y0, x1, y1) in photo pixels
    drawingEnded = Signal()
    referenceDropped = Signal(int, str)
    filesDropped = Signal(list)
    viewChanged = Signal()
    swipeChanged = Signal(float)
    # a brush stroke, press to release: its points in photo pixels, the brush's width in photo pixels, and
    # whether it marks damage (True) or takes marks away (False)
    damagePainted = Signal(list, float, bool)

    def __init__(self, parent=None, hint: str = ""):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#202124"))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setAcceptDrops(True)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.hint = hint  # shown while there is no photo
        self.caption = ""  # a fixed label, e.g. "Before" on the left of a side-by-side comparison
        self.before = _Layer(None)
        self.scene().addItem(self.before.base)
        self.scene().addItem(self.before.detail)
        self._clip = QGraphicsRectItem()
        self._clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self._clip.setPen(QPen(Qt.PenStyle.NoPen))
        self._clip.setZValue(1)
        self.scene().addItem(self._clip)
        self.after = _Layer(self._clip)
        self._divider = QGraphicsLineItem()
        pen = QPen(QColor("white"), 2)
        pen.setCosmetic(True)
        self._divider.setPen(pen)
        self._divider.setZValue(2)
        self.scene().addItem(self._divider)
        self._marks = QGraphicsPixmapItem()  # the scratches and dust found, over before and after alike
        self._marks.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._marks.setZValue(1.5)
        self._marks.setVisible(False)
        self.scene().addItem(self._marks)
        self.brush: str | None = None  # "mark" or "unmark" while the damage brush is on
        self.brush_size = 12.0  # photo pixels: a stroke covers the same part of the photo at any zoom
        self._stroke: list[QPointF] | None = None
        self._stroke_path = QPainterPath()
        self._stroke_item = QGraphicsPathItem()  # the stroke being painted, until the repair shows it
        self._stroke_item.setZValue(2.5)
        self.scene().addItem(self._stroke_item)
        self._brush_outline = QGraphicsEllipseItem()  # where the brush would paint, at its size
        self._brush_outline.setZValue(4)
        self._brush_outline.setVisible(False)
        self.scene().addItem(self._brush_outline)
        self._faces: dict[int, FaceOutline] = {}
        self._size = (0, 0)
        self.mode = "after"  # "after", "before" or "swipe"
        self.swipe = 0.5
        self.drawing = False
        self._press: QPoint | None = None
        self._dragging_swipe = False
        self._band = QRubberBand(QRubberBand.Shape.Rectangle, self.viewport())
        self._syncing = False
        self._fitted = True  # follow the window's size until the user zooms
        self.outlines = True
        self._detail_timer = QTimer(self, singleShot=True, interval=80)
        self._detail_timer.timeout.connect(self._update_detail)
        self.horizontalScrollBar().valueChanged.connect(self._changed)
        self.verticalScrollBar().valueChanged.connect(self._changed)
        self._apply_mode()

    # ---- content -------------------------------------------------------------------------------------

    @property
    def has_photo(self) -> bool:
        return self._size != (0, 0)

    def set_photo(self, full: np.ndarray | None, display: QPixmap | None) -> None:
        self.before.set_image(full, display)
        self.after.set_image(None, None)
        self._size = (0, 0) if full is None else (full.shape[1], full.shape[0])
        self.scene().setSceneRect(QRectF(0, 0, *self._size) if full is not None else QRectF())
        self.set_faces([])
        self.set_marks(None)
        self.clear_stroke()
        self._apply_mode()
        self.fit()

    def set_result(self, full: np.ndarray | None, display: QPixmap | None) -> None:
        self.after.set_image(full, display)
        if self._stroke is None:  # a stroke painted before now shows as what it repaired
            self.clear_stroke()
        self._apply_mode()
        self._detail_timer.start()

    @property
    def has_result(self) -> bool:
        return self.after.full is not None

    def set_marks(self, pixmap: QPixmap | None) -> None:
        """Lay the marks found (a pixmap of images.marks_layer, the display copy's size) over the photo; None
        takes them away."""
        if pixmap is None or pixmap.isNull() or not self.has_photo:
            self._marks.setPixmap(QPixmap())
            self._marks.setVisible(False)
            return
        self._marks.setPixmap(pixmap)
        self._marks.setScale(self._size[0] / pixmap.width())
        self._marks.setVisible(True)

    @property
    def marks_shown(self) -> bool:
        return self._marks.isVisible()

    def set_faces(self, faces: list[tuple[int, tuple]]) -> None:
        for item in self._faces.values():
            self.scene().removeItem(item)
        self._faces = {}
        for index, box in faces:
            item = FaceOutline(index, box)
            item.setZValue(3)
            item.setVisible(self.outlines)
            self.scene().addItem(item)
            self._faces[index] = item

    def set_face_state(self, index: int, included: bool, selected: bool, warning: bool) -> None:
        if index in self._faces:
            self._faces[index].set_state(included, selected, warning)

    def face_at(self, scene_pos: QPointF) -> int | None:
        hits = [(i.rect().width() * i.rect().height(), idx) for idx, i in self._faces.items() if i.rect().contains(scene_pos)]
        return min(hits)[1] if hits else None

    def face_centre(self, index: int) -> QPoint:
        """Where face `index` is on screen (viewport coordinates); used by tests and drops."""
        return self.mapFromScene(self._faces[index].rect().center())

    # ---- modes ---------------------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self._apply_mode()

    def set_swipe(self, fraction: float) -> None:
        self.swipe = min(1.0, max(0.0, fraction))
        self._apply_mode()

    def _apply_mode(self) -> None:
        w, h = self._size
        show_after = self.has_result and self.mode != "before"
        self._clip.setVisible(show_after)
        cut = w * self.swipe if self.mode == "swipe" else w
        self._clip.setRect(QRectF(0, 0, cut, h))
        self._divider.setVisible(show_after and self.mode == "swipe")
        self._divider.setLine(QLineF(cut, 0, cut, h))
        self.viewport().update()

    # ---- zoom and sync -------------------------------------------------------------------------------

    def fit(self) -> None:
        self._fitted = True
        self._fit_view()
        self._changed()

    def _fit_view(self) -> None:
        if self.has_photo:
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def show_region(self, rect: QRectF) -> None:
        """Zoom so that `rect` (photo pixels) fills the view."""
        self._fitted = False
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._changed()

    def faces_region(self, margin: float = 0.8) -> QRectF | None:
        """The faces' bounding box grown by `margin` of its size on each side, within the photo."""
        if not self._faces:
            return None
        rect = QRectF()
        for item in self._faces.values():
            rect = rect.united(item.rect())
        grow = margin * max(rect.width(), rect.height())
        return rect.adjusted(-grow, -grow, grow, grow).intersected(self.scene().sceneRect())

    def zoom_by(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.01 <= scale <= 32:
            self._fitted = False
            self.scale(factor, factor)
            self._changed()

    def actual_size(self) -> None:
        self._fitted = False
        self.resetTransform()
        self._changed()

    def set_outlines(self, on: bool) -> None:
        self.outlines = on
        for item in self._faces.values():
            item.setVisible(on)

    def zoom(self) -> float:
        return self.transform().m11()

    def match(self, other: PhotoView) -> None:
        """Show the same region at the same zoom as `other` (side-by-side comparison)."""
        if self._syncing:
            return
        self._syncing = True
        self._fitted = other._fitted
        if self._fitted:
            # Fitted means fitted to this pane: copying the other pane's scale would carry its size over (a
            # narrow pane's scale made both show a thumbnail).
            self._fit_view()
        else:
            self.setTransform(other.transform())
            self.horizontalScrollBar().setValue(other.horizontalScrollBar().value())
            self.verticalScrollBar().setValue(other.verticalScrollBar().value())
        self._syncing = False
        self._detail_timer.start()

    def _changed(self, *_) -> None:
        self._detail_timer.start()
        if not self._syncing:
            self.viewChanged.emit()

    def _update_detail(self) -> None:
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        for layer in (self.before, self.after):
            layer.update_detail(visible, self.viewport().size(), self.zoom())

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self._fit_view()
        self._detail_timer.start()

    # ---- mouse: click a face, draw a box, paint damage, drag the swipe line ------------------------------

    def set_drawing(self, on: bool) -> None:
        self.drawing = on
        self._set_pointer()

    def set_brush(self, brush: str | None, size: float | None = None) -> None:
        """Paint damage ("mark") or paint it away ("unmark") with a round brush `size` photo pixels wide; None:
        drag to pan and click faces, as usual."""
        self.brush = brush
        if size is not None:
            self.brush_size = float(size)
        self._stroke = None
        self.clear_stroke()
        self._brush_outline.setVisible(False)
        self.viewport().setMouseTracking(True)  # the brush outline follows the mouse, buttons up or down
        self._set_pointer()

    def clear_stroke(self) -> None:
        """Take away the last stroke painted, shown until what it repaired is (or when it repairs nothing)."""
        self._stroke_item.setPath(QPainterPath())

    def _set_pointer(self) -> None:
        tool = self.drawing or self.brush is not None
        self.setDragMode(QGraphicsView.DragMode.NoDrag if tool else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if tool else Qt.CursorShape.OpenHandCursor)

    def _brush_colour(self, alpha: int = 255) -> QColor:
        colour = QColor(MARK if self.brush == "mark" else UNMARK)
        colour.setAlpha(alpha)
        return colour

    def _show_brush(self, at: QPointF) -> None:
        r = self.brush_size / 2
        pen = QPen(self._brush_colour(), 1.5)
        pen.setCosmetic(True)
        self._brush_outline.setPen(pen)
        self._brush_outline.setRect(QRectF(at.x() - r, at.y() - r, 2 * r, 2 * r))
        self._brush_outline.setVisible(True)

    def _paint_to(self, at: QPointF) -> None:
        if not self._stroke:
            self._stroke_path = QPainterPath(at)
        self._stroke.append(at)
        self._stroke_path.lineTo(at)  # from the point itself at first: a click paints a dot
        pen = QPen(self._brush_colour(128), self.brush_size, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        self._stroke_item.setPen(pen)
        self._stroke_item.setPath(self._stroke_path)

    def _near_divider(self, pos: QPoint) -> bool:
        if not self._divider.isVisible():
            return False
        x = self.mapFromScene(QPointF(self._size[0] * self.swipe, 0)).x()
        return abs(pos.x() - x) <= 10

    def mousePressEvent(self, event) -> None:
        self._press = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self.brush is not None and self.has_photo:
            self._stroke = []
            self._paint_to(self.mapToScene(self._press))
            return
        if event.button() == Qt.MouseButton.LeftButton and self.drawing:
            self._band.setGeometry(QRect(self._press, QSize()))
            self._band.show()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(self._press):
            self._dragging_swipe = True
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self.brush is not None:
            at = self.mapToScene(pos)
            self._show_brush(at)
            if self._stroke is not None:
                self._paint_to(at)
            return
        if self.drawing and self._band.isVisible():
            self._band.setGeometry(QRect(self._press, pos).normalized())
            return
        if self._dragging_swipe:
            self.set_swipe(self.mapToScene(pos).x() / max(1, self._size[0]))
            self.swipeChanged.emit(self.swipe)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        pos = event.position().toPoint()
        press, self._press = self._press, None
        if self._stroke is not None:
            points = [(p.x(), p.y()) for p in self._stroke]
            self._stroke = None
            # the preview stays until the repaired photo replaces it (the next set_result)
            self.damagePainted.emit(points, self.brush_size, self.brush == "mark")
            return
        if self.drawing and self._band.isVisible():
            self._band.hide()
            rect = self.mapToScene(QRect(press, pos).normalized()).boundingRect()
            self.set_drawing(False)
            self.drawingEnded.emit()
            self.boxDrawn.emit((rect.left(), rect.top(), rect.right(), rect.bottom()))
            return
        if self._dragging_swipe:
            self._dragging_swipe = False
            return
        super().mouseReleaseEvent(event)
        if press is not None and (pos - press).manhattanLength() < 5 and event.button() == Qt.MouseButton.LeftButton:
            index = self.face_at(self.mapToScene(pos))
            if index is not None:
                self.faceClicked.emit(index)

    def leaveEvent(self, event) -> None:
        self._brush_outline.setVisible(False)
        super().leaveEvent(event)

    # ---- drops: photos to open, or a reference photo onto a face -----------------------------------------

    @staticmethod
    def _paths(event) -> list[str]:
        return [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]

    def dragEnterEvent(self, event) -> None:
        if self._paths(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if self._paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = self._paths(event)
        if not paths:
            return
        event.acceptProposedAction()
        index = self.face_at(self.mapToScene(event.position().toPoint()))
        if index is not None and len(paths) == 1 and Path(paths[0]).suffix.lower() in IMAGE_SUFFIXES:
            self.referenceDropped.emit(index, paths[0])
        else:
            self.filesDropped.emit(paths)

    # ---- labels drawn over the view ------------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        font = QFont()
        font.setPixelSize(14)
        painter.setFont(font)
        area = self.viewport().rect()
        if not self.has_photo:
            painter.setPen(QColor("#bbbbbb"))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.hint)
        elif self.mode == "swipe" and self.has_result:
            # the result is clipped to the left of the line (_apply_mode), over the original
            self._tag(painter, area, "After", True)
            self._tag(painter, area, "Before", False)
        elif self.mode == "before" and self.has_result:
            self._tag(painter, area, "Original", True)
        elif self.caption:
            self._tag(painter, area, self.caption, True)
        painter.restore()

    @staticmethod
    def _tag(painter: QPainter, area: QRect, text: str, left: bool) -> None:
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 16, metrics.height() + 8
        x = area.left() + 10 if left else area.right() - w - 10
        box = QRect(x, area.top() + 10, w, h)
        painter.fillRect(box, QColor(0, 0, 0, 170))
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
