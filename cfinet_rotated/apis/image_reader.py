"""Reading windows of a large image without holding more of it in memory than its format requires.

:class:`PatchReader` gives BGR ``uint8`` crops of an image given as

* an array (``(H, W, 3)`` BGR or ``(H, W)`` grey): crops are views, nothing is copied;
* a ``.npy`` file (uint8, C order) or an uncompressed image file whose pixels Pillow locates as raw row bands
  (BMP, PPM/PGM, uncompressed TIFF): per window, only its rows are memory-mapped, copied and unmapped again, so
  the process never holds more of the file than one window;
* any other image file (JPEG, PNG, compressed TIFF, ...): decoded once with OpenCV (``cv2.imread``), crops are
  views of that one array. These codecs cannot decode a region alone (Pillow's ``crop`` also decodes the
  whole image first), so this is the bound: one decoded copy, ``H * W * 3`` bytes (300 MB for 10000 x 10000),
  and nothing else of image size.

* a GeoTIFF (or any ``.tif``/``.tiff``) when rasterio is installed (``requirements/optional.txt``): per window,
  a windowed read of only the window's pixels (tiled and compressed files too: GDAL decodes only the tiles
  the window touches), so a 30000 x 30000 image is never in memory as a whole. The reader keeps the file's
  georeferencing, ``reader.crs`` and ``reader.transform`` (pixel -> CRS coordinates), for GeoJSON output.
  Bands: 1 (grey) or >= 3 (the first three, taken as RGB), 8-bit; other sample types are an error that names the
  file and says how to convert it.

``reader.mode`` says which of ``'array'``, ``'memmap'``, ``'decoded'``, ``'rasterio'`` applies.
"""
import os
import os.path as osp

import cv2
import numpy as np

#: GDAL block cache (MB) for GeoTIFF reads, unless the environment sets GDAL_CACHEMAX
GDAL_CACHE_MB = 128
#: Pillow raw modes that map to OpenCV's BGR channel order: name -> (channels in the file, BGR index order)
_RAWMODES = {'BGR': (3, [0, 1, 2]), 'RGB': (3, [2, 1, 0]), 'L': (1, [0]),
             'BGRX': (4, [0, 1, 2]), 'RGBX': (4, [2, 1, 0]), 'BGRA': (4, [0, 1, 2]), 'RGBA': (4, [2, 1, 0])}


def _npy_band(path):
    """The raw row band of a ``.npy`` file holding an (H, W, 3) or (H, W) uint8 C-order array, or None."""
    with open(path, 'rb') as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                return None
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
        except ValueError:
            return None
        offset = f.tell()
    if dtype != np.uint8 or fortran or not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))):
        return None
    height, width = shape[:2]
    ch = 1 if len(shape) == 2 else shape[2]
    return width, height, [(0, height, offset, width * ch, ch, [0, 1, 2][:ch], 1)]


def _raw_bands(path):
    """The raw full-width row bands of an uncompressed image file, or None.

    Returns ``(width, height, bands)``, ``bands`` a list of ``(y0, y1, offset, stride, channels, order,
    direction)``: image rows ``[y0, y1)`` stored from byte ``offset`` on, ``stride`` bytes per row, ``direction``
    -1 for bottom-up rows (BMP), ``order`` the channel indices that give BGR (or grey). None when Pillow does not
    describe the file as such bands (compressed formats, palettes, 16-bit, orientation tags).
    """
    from PIL import Image
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read; the size check targets decoding
    try:
        with Image.open(path) as im:
            width, height = im.size
            tiles = list(im.tile)
            orientation = im.getexif().get(0x0112, 1) if hasattr(im, 'getexif') else 1
    except Exception:  # noqa: BLE001  (not a Pillow-readable file: let OpenCV decode it or fail)
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = old
    if not tiles or orientation != 1:
        return None
    bands = []
    for tile in tiles:
        codec, extents, offset, args = tile[0], tile[1], tile[2], tile[3]
        if codec != 'raw' or extents is None:
            return None
        x0, y0, x1, y1 = extents
        if (x0, x1) != (0, width) or not 0 <= y0 < y1 <= height:
            return None
        args = (args, ) if isinstance(args, str) else tuple(args)
        rawmode = args[0]
        stride = args[1] if len(args) > 1 else 0
        direction = args[2] if len(args) > 2 else 1
        if rawmode not in _RAWMODES or direction not in (1, -1):
            return None
        ch, order = _RAWMODES[rawmode]
        stride = stride or width * ch
        if stride < width * ch:
            return None
        bands.append((y0, y1, offset, stride, ch, order, direction))
    bands.sort(key=lambda b: b[0])
    covered = 0
    for band in bands:
        if band[0] != covered:
            return None
        covered = band[1]
    if covered != height:
        return None
    return width, height, bands


def _read_band_rows(path, band, lo, hi, x1, x2):
    """Image rows ``[lo, hi)``, columns ``[x1, x2)`` of one band, as ``(hi - lo, x2 - x1, channels)`` uint8.

    Maps only those rows and unmaps them again, so pages read for earlier windows do not stay in this process's
    resident memory (a mapping of the whole file would keep every page it touched)."""
    y0, y1, offset, stride, ch, _, direction = band
    first = lo - y0 if direction == 1 else y1 - hi  # file row of the first row to read
    mm = np.memmap(path, dtype=np.uint8, mode='r', offset=offset + first * stride, shape=(hi - lo, stride))
    try:
        part = np.array(mm[:, x1 * ch:x2 * ch]).reshape(hi - lo, x2 - x1, ch)
    finally:
        del mm
    return part if direction == 1 else part[::-1]


class PatchReader:
    """Crops of one image, read lazily where its format allows (see the module docstring).

    Args:
        image (str | np.ndarray): an image file, a ``.npy`` file, or an array (BGR ``(H, W, 3)`` or grey
            ``(H, W)``, uint8).

    Attributes:
        width, height (int): image size; ``path`` (str | None); ``mode`` ('array', 'memmap' or 'decoded').
    """

    def __init__(self, image):
        self.path = None
        self._bands = None
        self._raster = None
        self.crs = self.transform = None
        if isinstance(image, np.ndarray):
            self._array = self._check_array(image, '<array>')
            self.mode = 'array'
        else:
            path = str(image)
            self.path = path
            if not osp.isfile(path):
                raise FileNotFoundError(f'{path}: no such image file')
            if path.lower().endswith(('.tif', '.tiff')) and self._open_raster(path):
                return
            raw = _npy_band(path) if path.lower().endswith('.npy') else _raw_bands(path)
            if raw is not None:
                self.width, self.height, self._bands = raw
                self._array = None
                self.mode = 'memmap'
                return
            if path.lower().endswith('.npy'):
                self._array = self._check_array(np.load(path), path)  # other dtypes / layouts: the check says why
                self.mode = 'array'
            else:
                img = cv2.imread(path, cv2.IMREAD_COLOR)
                if img is None:
                    raise ValueError(f'{path}: cannot be read as an image')
                self._array = img
                self.mode = 'decoded'
        self.height, self.width = self._array.shape[:2]

    def _open_raster(self, path):
        """Open ``path`` with rasterio for windowed reads; False when rasterio is not installed.

        GDAL's block cache is capped at :data:`GDAL_CACHE_MB` unless ``GDAL_CACHEMAX`` is set: its default (5 %
        of the RAM) kept 1.25 GB of decoded tiles of a 20000 x 20000 GeoTIFF resident
        (``tools/analysis_tools/benchmark_infer.py --big-format tif``); one row of windows needs far less."""
        os.environ.setdefault('GDAL_CACHEMAX', str(GDAL_CACHE_MB))
        try:
            import rasterio
        except ImportError:
            return False
        try:
            src = rasterio.open(path)
        except rasterio.errors.RasterioIOError as e:
            raise ValueError(f'{path}: cannot be read as a GeoTIFF ({e})') from None
        if src.count < 1 or src.count == 2:
            src.close()
            raise ValueError(f'{path}: {src.count} bands; expected 1 (grey) or 3+ (RGB first)')
        if src.dtypes[0] != 'uint8':
            dtype = src.dtypes[0]
            src.close()
            raise ValueError(f'{path}: {dtype} samples; the detectors take 8-bit images: convert it, e.g. '
                             f'gdal_translate -ot Byte -scale {path} out.tif')
        self._raster = src
        self.width, self.height = src.width, src.height
        self.crs = src.crs.to_string() if src.crs else None
        self.transform = tuple(src.transform)[:6] if not src.transform.is_identity else None
        self.mode = 'rasterio'
        return True

    def close(self):
        """Close an open GeoTIFF (also done when the reader is garbage-collected)."""
        if self._raster is not None:
            self._raster.close()
            self._raster = None

    def __del__(self):
        self.close()

    def pixel_to_crs(self, points):
        """(N, 2) pixel coordinates (x right, y down; (0, 0) the top-left corner of the top-left pixel) -> (N, 2)
        coordinates in ``crs`` by the affine ``transform`` (a, b, c, d, e, f): X = a x + b y + c, Y = d x + e y + f."""
        if self.transform is None:
            raise ValueError(f'{self.path}: not georeferenced (no affine transform)')
        a, b, c, d, e, f = self.transform
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.stack([a * p[:, 0] + b * p[:, 1] + c, d * p[:, 0] + e * p[:, 1] + f], 1)

    @staticmethod
    def _check_array(arr, name):
        if arr.dtype != np.uint8:
            raise ValueError(f'{name}: expected a uint8 image, got dtype {arr.dtype}')
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3))):
            raise ValueError(f'{name}: expected an (H, W, 3) BGR or (H, W) grey image, got shape {arr.shape}')
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f'{name}: empty image of shape {arr.shape}')
        return arr

    def read(self, window):
        """The part of ``window`` (x1, y1, x2, y2) inside the image, as a BGR ``(h, w, 3)`` uint8 array (a view
        for arrays; at most the window's rows are read from a memory-mapped file). Padding to the full window
        is the caller's (the test pipeline's ``LoadPatchFromNDArray``)."""
        x1, y1, x2, y2 = (int(v) for v in window)
        x1, y1 = max(x1, 0), max(y1, 0)
        x2, y2 = min(x2, self.width), min(y2, self.height)
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f'window {tuple(int(v) for v in window)} lies outside the '
                             f'{self.width}x{self.height} image {self.path or ""}')
        if self._raster is not None:
            from rasterio.windows import Window
            bands = [1, 1, 1] if self._raster.count == 1 else [3, 2, 1]  # BGR from RGB
            return np.ascontiguousarray(
                self._raster.read(bands, window=Window(x1, y1, x2 - x1, y2 - y1)).transpose(1, 2, 0))
        if self._bands is None:
            crop = self._array[y1:y2, x1:x2]
            if crop.ndim == 2 or crop.shape[2] == 1:
                crop = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_GRAY2BGR)
            return crop
        out = np.empty((y2 - y1, x2 - x1, 3), np.uint8)
        for band in self._bands:
            lo, hi = max(y1, band[0]), min(y2, band[1])
            if lo >= hi:
                continue
            part = _read_band_rows(self.path, band, lo, hi, x1, x2)
            order = band[5]
            out[lo - y1:hi - y1] = part[..., order] if len(order) == 3 else part[..., [0, 0, 0]]
        return out

    def read_all(self, max_side=None):
        """The whole image as BGR (for drawing; makes a copy when the image is memory-mapped). ``max_side``: a GeoTIFF
        larger than that is read decimated by GDAL (its overviews where the file has them), to at most
        ``max_side`` px on its longest side, never whole; other images are returned whole."""
        if self._raster is not None and max_side and max(self.width, self.height) > max_side:
            from rasterio.enums import Resampling
            s = max_side / max(self.width, self.height)
            h, w = max(1, round(self.height * s)), max(1, round(self.width * s))
            bands = [1, 1, 1] if self._raster.count == 1 else [3, 2, 1]
            return np.ascontiguousarray(self._raster.read(bands, out_shape=(3, h, w),
                                                          resampling=Resampling.average).transpose(1, 2, 0))
        return self.read((0, 0, self.width, self.height))
