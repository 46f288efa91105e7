;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar chain) -- a case as a chain of steps, run on both engines.
;;;
;;; A chain is data: a list of steps (alists), each naming the step, the
;;; side it runs on ("engine", "reference" or "both") and its arguments:
;;;   create         make the start image (each side with its own tool, or
;;;                  the reference alone in shared start mode)
;;;   create-backing backing mode: the reference makes a qcow2 backing
;;;                  image (base.qcow2, beside the images), writes its
;;;                  patterns, and creates the start image over it; the
;;;                  copy keeps the relative backing name
;;;   usage          the bytes the file occupies (st_blocks), each side:
;;;                  as usage:start before the first resize, and after all
;;;   write-pattern  qemu-io writes known bytes (always the reference tool)
;;;   copy           shared mode: the reference's start image becomes the
;;;                  engine side's start image (cp --sparse=always)
;;;   image-state    shared mode: qemu-img gives the start image a state
;;;                  (an internal snapshot, a persistent bitmap) or a
;;;                  header bit is set in it (dirty, corrupt)
;;;   resize         each side resizes with its own tool; the file's
;;;                  fingerprint (size + xxh3-128) is recorded before, and
;;;                  after a refusal, as NAME:before / NAME:after
;;;   info / check   qemu-img info / check --output=json on each side
;;;   compare        qemu-img compare of the two results
;;;   length         the file length on each side (raw: guest-visible)
;;;   verify         qemu-io `read -P' commands (resize-consistency)
;;;   hold           held mode: a qemu-io process opens each side's image
;;;                  read-write and keeps it open (a copy of the file is
;;;                  kept to compare against)
;;;   release        held mode: the holders quit
;;;   held-unchanged held mode: each side's file is byte-identical to the
;;;                  copy taken before the resize (cmp)
;;;   import         a start image given as data: a file of LENGTH bytes,
;;;                  zero (a hole) except for EXTENTS, each an offset and
;;;                  its bytes in hex (corpus-diff: a fuzz input made a
;;;                  real image); usually named "create" on the reference
;;;                  side of a shared-start case, then copied
;;; `run-chain' runs one chain in a private temporary directory and
;;; returns a trace: every step's result record, in order.

(define-module (instar chain)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (instar process)
  #:use-module (instar engine)
  #:use-module (instar pickers)
  #:use-module (instar holder)
  #:use-module (instar fingerprint)
  #:use-module (rnrs bytevectors)
  #:use-module (ice-9 binary-ports)
  #:export (case->chain
            run-chain
            trace?
            trace-steps
            trace-result
            trace-results
            qemu-io-commands
            format-extension
            write-sparse-image
            corpus-case->chain
            reference-resizes?))

(define (format-extension fmt)
  "The file name extension the chain gives an image of format FMT
(raw: img, vpc: vhd, others their name)."
  (match fmt
    ("raw" "img") ("vpc" "vhd") (other other)))

(define (qemu-io-commands patterns)
  "qemu-io -c arguments writing PATTERNS (a vector of alists)."
  (append-map (lambda (p)
                (list "-c" (format #f "write -P 0x~2,'0x ~d ~d"
                                   (assoc-ref p "byte") (assoc-ref p "offset")
                                   (assoc-ref p "length"))))
              (vector->list patterns)))

(define (tail-zero-step case)
  "For a shrink followed by a grow: on the engine side the range between
the shrink's end and the start size must read as zeros (qemu may show old
bytes there -- the whitelisted stale tail -- but we must not, and this
step checks the claim instead of trusting it)."
  (let ((start (parse-size-string (assoc-ref case "size")))
        (ends (case-end-bytes case)))
    (if (and (equal? (assoc-ref case "op") "regrow") (= (length ends) 2)
             (< 0 (car ends) start) (>= (cadr ends) start))
        (let* ((e (car ends)) (len (min (- start e) (* 4 1024 1024))))
          `((("step" . "verify") ("name" . "tail-zero") ("side" . "engine")
             ("commands" . #(,(format #f "read -P 0 ~d ~d" e len))))))
        '())))

(define huge-end (expt 2 40))

(define (set-header-bit! path offset mask)
  "OR MASK into the byte at OFFSET of PATH (in place)."
  (let ((port (open-file path "r+b")))
    (dynamic-wind
      (lambda () #t)
      (lambda ()
        (seek port offset SEEK_SET)
        (let ((b (get-u8 port)))
          (seek port offset SEEK_SET)
          (put-u8 port (logior b mask))))
      (lambda () (close-port port)))))

(define (hex->bytevector hex)
  (let* ((n (quotient (string-length hex) 2))
         (bv (make-bytevector n)))
    (do ((i 0 (+ i 1))) ((= i n) bv)
      (bytevector-u8-set! bv i (string->number (substring hex (* 2 i) (+ 2 (* 2 i))) 16)))))

(define (write-sparse-image path length extents)
  "Write PATH: LENGTH bytes, a hole except for EXTENTS (a vector of
alists: offset, hex).  The file is created exclusively (a private
directory's new name), so nothing else is overwritten."
  (let ((port (open path (logior O_WRONLY O_CREAT O_EXCL) #o644)))
    (dynamic-wind
      (lambda () #t)
      (lambda ()
        (truncate-file port length)
        (for-each (lambda (e)
                    (seek port (assoc-ref e "offset") SEEK_SET)
                    (put-bytevector port (hex->bytevector (assoc-ref e "hex"))))
                  (vector->list extents)))
      (lambda () (close-port port)))))

(define (case->chain case)
  "The chain of steps (a list of alists, see the module commentary) that
runs CASE on both sides: a corpus case's (corpus-case->chain) or a drawn
case's (drawn-case->chain)."
  (if (equal? (assoc-ref case "op") "corpus")
      (corpus-case->chain case)
      (drawn-case->chain case)))

(define (reference-resizes? fmt)
  "Whether qemu-img 7.2 resizes FMT images at all (vpc, vhdx and vmdk:
`Image format driver does not support resize')."
  (member fmt '("raw" "qcow2")))

(define (corpus-case->chain case)
  "The chain of a corpus case: the reference's start image written from
the case's data (named create, so the oracles see a shared start), copied
to the engine side, one resize, then info, check (formats qemu-img checks),
compare (ends up to 1 TiB: compare walks every cluster) and, raw, the
file length.  For a format qemu-img cannot resize only the engine
resizes: the reference side keeps the start image, read for comparison."
  (let* ((fmt (assoc-ref case "format"))
         (r (vector-ref (assoc-ref case "resizes") 0))
         (end (spec-end (or (string->number (assoc-ref case "size")) 0) (assoc-ref r "spec"))))
    `((("step" . "import") ("name" . "create") ("side" . "reference") ("format" . ,fmt)
       ("length" . ,(assoc-ref case "length")) ("extents" . ,(assoc-ref case "extents")))
      (("step" . "copy") ("side" . "engine"))
      (("step" . "resize") ("name" . "resize")
       ("side" . ,(if (reference-resizes? fmt) "both" "engine"))
       ("spec" . ,(assoc-ref r "spec")) ("shrink" . ,(assoc-ref r "shrink"))
       ("prealloc" . ,(let ((p (assoc-ref r "prealloc"))) (if (string? p) p #f))))
      (("step" . "info") ("side" . "both"))
      ,@(if (member fmt '("qcow2" "vhdx" "vmdk")) '((("step" . "check") ("side" . "both"))) '())
      ,@(if (and end (<= end huge-end)) '((("step" . "compare") ("side" . "both"))) '())
      ,@(if (equal? fmt "raw") '((("step" . "length") ("side" . "both"))) '()))))

(define (drawn-case->chain case)
  "The chain of steps (a list of alists, see the module commentary) that
runs CASE on both sides: create, patterns, the start mode's steps, each
resize, then info, check, compare and (raw) length."
  (let* ((fmt (assoc-ref case "format"))
         (backing (assoc-ref case "backing"))
         (shared? (member (assoc-ref case "start-mode") '("shared" "backing")))
         ;; held: each side's image is held open by qemu-io while it is
         ;; resized; both tools must refuse and leave the file as it was.
         (held? (equal? (assoc-ref case "start-mode") "held"))
         (patterns (assoc-ref case "patterns"))
         (create `(("step" . ,(if backing "create-backing" "create"))
                   ("name" . "create")
                   ("side" . ,(if shared? "reference" "both"))
                   ("format" . ,fmt)
                   ("size" . ,(assoc-ref case "size"))
                   ("options" . ,(assoc-ref case "options"))
                   ("prealloc" . ,(assoc-ref case "create-prealloc"))
                   ,@(if backing `(("backing" . ,backing)) '())))
         (write `(("step" . "write-pattern")
                  ("side" . ,(if shared? "reference" "both"))
                  ("patterns" . ,patterns)))
         (resizes (vector->list (assoc-ref case "resizes"))))
    `(,create
      ,@(if (zero? (vector-length patterns)) '() (list write))
      ,@(let ((state (or (assoc-ref case "image-state") "clean")))
          (if (and shared? (not (equal? state "clean")))
              `((("step" . "image-state") ("side" . "reference") ("state" . ,state)))
              '()))
      ,@(if shared? '((("step" . "copy") ("side" . "engine"))) '())
      ,@(if held? '((("step" . "hold") ("side" . "both"))) '())
      (("step" . "usage") ("name" . "usage:start") ("side" . "both"))
      ,@(map (lambda (r i)
               `(("step" . "resize")
                 ("name" . ,(if (zero? i) "resize" (format #f "resize-~d" (+ i 1))))
                 ("side" . "both")
                 ("spec" . ,(assoc-ref r "spec"))
                 ("shrink" . ,(assoc-ref r "shrink"))
                 ("prealloc" . ,(let ((p (assoc-ref r "prealloc")))
                                  (if (string? p) p #f)))))
             resizes (iota (length resizes)))
      ,@(if held?
            '((("step" . "release") ("side" . "both"))
              (("step" . "held-unchanged") ("side" . "both")))
            '())
      ,@(tail-zero-step case)
      (("step" . "usage") ("side" . "both"))
      (("step" . "info") ("side" . "both"))
      ,@(if (equal? fmt "raw") '() '((("step" . "check") ("side" . "both"))))
      ;; qemu-img compare walks every cluster: minutes past a few TiB
      ;; (at-limit cases end at up to 2 EiB), so those skip it.
      ,@(if (any (lambda (e) (> e huge-end))
                 (cons (or (parse-qemu-size (assoc-ref case "size")) 0) (case-end-bytes case)))
            '()
            '((("step" . "compare") ("side" . "both"))))
      ,@(if (equal? fmt "raw") '((("step" . "length") ("side" . "both"))) '()))))

(define-record-type <trace>
  (make-trace steps)
  trace?
  ;; list of (NAME SIDE RESULT-OR-VALUE), in the order run
  (steps trace-steps))

(define (trace-results trace name side)
  "Every result step NAME recorded on SIDE in TRACE, in order (a step
that ran twice, such as a second verify, has two)."
  (filter-map (lambda (s) (and (equal? (car s) name) (equal? (cadr s) side) (caddr s)))
              (trace-steps trace)))

(define (trace-result trace name side)
  "The last result of step NAME on SIDE, or #f if it did not run."
  (let ((rs (trace-results trace name side)))
    (and (pair? rs) (last rs))))

(define* (run-chain chain engine
                    #:key qemu-img qemu-io (timeout 60) (tmpdir "/tmp")
                    (keep-dir #f))
  "Run CHAIN with ENGINE on the engine side and QEMU-IMG (an external
engine record) on the reference side, in a private directory under
TMPDIR (removed afterwards unless KEEP-DIR).  Returns a trace."
  (let* ((dir (make-private-directory tmpdir "instar-chain."))
         (fmt (assoc-ref (car chain) "format"))
         (ext (format-extension fmt))
         (paths `(("engine" . ,(string-append dir "/engine." ext))
                  ("reference" . ,(string-append dir "/reference." ext))))
         (steps '())
         (holders '())                  ; (side . holder) while held
         (dead '()))                    ; sides whose image is unusable
    (define (path side) (assoc-ref paths side))
    (define (record! name side r)
      (set! steps (cons (list name side r) steps))
      r)
    (define (sides-of step)
      (match (assoc-ref step "side")
        ("both" '("engine" "reference"))
        (s (list s))))
    (define (tool side) (if (equal? side "engine") engine qemu-img))
    (define (run argv) (run-command argv #:timeout timeout #:scratch dir))
    (define (live? side) (not (member side dead)))
    (define (kill-side! side) (set! dead (cons side dead)))
    (define (run-live-sides! name step argv-of)
      ;; Run (ARGV-OF side) for each live side of STEP, recorded as NAME.
      (for-each (lambda (side)
                  (when (live? side) (record! name side (run (argv-of side)))))
                (sides-of step)))
    (define (do-step step)
      (let ((name (or (assoc-ref step "name") (assoc-ref step "step"))))
        (match (assoc-ref step "step")
          ("create"
           (for-each
            (lambda (side)
              (let ((r (engine-create (tool side) fmt (path side)
                                      (assoc-ref step "size") (assoc-ref step "options")
                                      (assoc-ref step "prealloc")
                                      #:timeout timeout #:scratch dir)))
                (record! name side r)
                (unless (result-ok? r) (kill-side! side))))
            (sides-of step)))
          ("create-backing"
           ;; The backing image, its patterns, then the start image over
           ;; it (named relative: the engine side's copy finds it too).
           (let* ((base (string-append dir "/base.qcow2"))
                  (b (assoc-ref step "backing"))
                  (qi (engine-program qemu-img))
                  (r1 (run `(,qi "create" "-q" "-f" "qcow2" ,base ,(assoc-ref b "size"))))
                  (r2 (and (result-ok? r1)
                           (run `(,qemu-io "-f" "qcow2"
                                           ,@(qemu-io-commands (assoc-ref b "patterns")) ,base))))
                  (opts (append (or (assoc-ref step "options") '())
                                (let ((p (assoc-ref step "prealloc")))
                                  (if (and (string? p) (not (equal? p "off")))
                                      `(("preallocation" . ,p)) '()))
                                '(("backing_file" . "base.qcow2") ("backing_fmt" . "qcow2"))))
                  (r (if (and r2 (result-ok? r2))
                         (run `(,qi "create" "-q" "-f" "qcow2" "-o" ,(options->string opts)
                                    ,(path "reference") ,(assoc-ref step "size")))
                         (or r2 r1))))
             (record! name "reference" r)
             (unless (result-ok? r) (kill-side! "reference"))))
          ("usage"
           (for-each
            (lambda (side)
              (when (live? side)
                (record! name side (* 512 (stat:blocks (stat (path side)))))))
            (sides-of step)))
          ("write-pattern"
           (for-each
            (lambda (side)
              (when (live? side)
                (let ((r (run `(,qemu-io "-f" ,fmt
                                         ,@(qemu-io-commands (assoc-ref step "patterns"))
                                         ,(path side)))))
                  (record! name side r)
                  ;; qemu-io reports some errors with status 0.
                  (unless (and (result-ok? r)
                               (not (string-contains (result-stderr r) "error"))
                               (not (string-contains (result-stdout r) "failed")))
                    (kill-side! side)))))
            (sides-of step)))
          ("import"
           (for-each
            (lambda (side)
              (let* ((t0 (get-internal-real-time))
                     (err (catch 'system-error
                            (lambda ()
                              (write-sparse-image (path side) (assoc-ref step "length")
                                                  (assoc-ref step "extents"))
                              #f)
                            (lambda (key subr msg margs . rest) (apply format #f msg margs))))
                     (secs (/ (- (get-internal-real-time) t0) internal-time-units-per-second 1.0)))
                (record! name side (make-result (list "import" (path side))
                                                (if err 'error 'ok) (if err 1 0) #f ""
                                                (or err "") secs))
                (when err (kill-side! side))))
            (sides-of step)))
          ("copy"
           (if (live? "reference")
               (let ((r (run (list "cp" "--sparse=always" (path "reference")
                                   (path "engine")))))
                 (record! name "engine" r)
                 (unless (result-ok? r) (kill-side! "engine")))
               (kill-side! "engine")))
          ("image-state"
           ;; qcow2 v3 keeps incompatible_features at bytes 72-79 (big
           ;; endian): bit 0 dirty, bit 1 corrupt.
           (when (live? "reference")
             (let* ((p (path "reference"))
                    (r (match (assoc-ref step "state")
                         ((or "snapshots" "v2-snapshots")
                          (run `(,(engine-program qemu-img) "snapshot" "-c" "s1" ,p)))
                         ("bitmaps"
                          (run `(,(engine-program qemu-img) "bitmap" "--add" "-f" ,fmt ,p "b0")))
                         ("dirty" (set-header-bit! p 79 1) #f)
                         ("corrupt" (set-header-bit! p 79 2) #f))))
               (when r
                 (record! name "reference" r)
                 (unless (result-ok? r) (kill-side! "reference"))))))
          ("resize"
           ;; A refused resize leaves the image as it was: later steps
           ;; still run (the refusal itself is what gets compared, and
           ;; the fingerprints show the file was not touched).
           (for-each
            (lambda (side)
              (when (live? side)
                (let ((before (file-fingerprint (path side))))
                  (record! (string-append name ":before") side before)
                  ;; An in-process engine's dry-run plan, first: it must
                  ;; say what the resize then does.
                  (when (eq? (engine-kind (tool side)) 'in-process)
                    (record! (string-append name ":plan") side
                             (engine-plan-summary (tool side) fmt (path side)
                                                  (assoc-ref step "spec") (assoc-ref step "shrink")
                                                  (assoc-ref step "prealloc"))))
                  (let ((r (record! name side
                                    (engine-resize (tool side) fmt (path side)
                                                   (assoc-ref step "spec") (assoc-ref step "shrink")
                                                   (assoc-ref step "prealloc")
                                                   #:timeout timeout #:scratch dir))))
                    (unless (result-ok? r)
                      (record! (string-append name ":after") side
                               (file-fingerprint (path side))))))))
            (sides-of step)))
          ("verify"
           ;; qemu-io reads with -P: the bytes must be the pattern.
           ;; (The step's name, e.g. tail-zero, is what gets recorded.)
           (run-live-sides!
            name step
            (lambda (side)
              `(,qemu-io "-f" ,fmt
                         ,@(append-map (lambda (c) (list "-c" c))
                                       (vector->list (assoc-ref step "commands")))
                         ,(path side)))))
          ((and verb (or "info" "check"))
           (run-live-sides!
            name step
            (lambda (side)
              `(,(engine-program qemu-img) ,verb "--output=json" "-f" ,fmt ,(path side)))))
          ("compare"
           (when (and (live? "engine") (live? "reference"))
             (record! name "both"
                      (run `(,(engine-program qemu-img) "compare" "-f" ,fmt
                             "-F" ,fmt ,(path "engine") ,(path "reference"))))))
          ("hold"
           ;; A qemu-io holder per side, and a copy of the file to compare
           ;; with afterwards.  A holder that cannot start is the
           ;; environment's trouble (spawn-failed: inconclusive).
           (for-each
            (lambda (side)
              (when (live? side)
                (let ((c (run (list "cp" "--sparse=always" (path side)
                                    (string-append (path side) ".held")))))
                  (if (not (result-ok? c))
                      (record! name side c)
                      (let* ((t0 (get-internal-real-time))
                             (h (start-holder qemu-io fmt (path side)
                                              #:log (string-append dir "/holder-" side ".log")
                                              #:timeout timeout))
                             (secs (/ (- (get-internal-real-time) t0)
                                      internal-time-units-per-second 1.0))
                             (argv (list qemu-io "-f" fmt (path side))))
                        (when h (set! holders (acons side h holders)))
                        (record! name side
                                 (make-result argv (if h 'ok 'spawn-failed) (and h 0) #f
                                              "" (if h "" "qemu-io did not hold the image")
                                              secs)))))))
            (sides-of step)))
          ("release"
           (for-each
            (lambda (side)
              (let ((h (assoc-ref holders side)))
                (when h
                  (stop-holder! h)
                  (set! holders (alist-delete side holders))
                  (record! name side
                           (make-result (list qemu-io "quit") 'ok 0 #f "" "" 0.0)))))
            (sides-of step)))
          ("held-unchanged"
           (for-each
            (lambda (side)
              (when (live? side)
                (record! name side
                         (run (list "cmp" "-s" (string-append (path side) ".held")
                                    (path side))))))
            (sides-of step)))
          ("external"
           ;; Another program reads the side's image: ARGV, then the path
           ;; (the independent readers of (instar readers)).
           (for-each
            (lambda (side)
              (when (live? side)
                (record! name side
                         (run (append (vector->list (assoc-ref step "argv"))
                                      (list (path side)))))))
            (sides-of step)))
          ("length"
           (for-each
            (lambda (side)
              (when (live? side)
                (record! name side (stat:size (stat (path side))))))
            (sides-of step))))))
    (dynamic-wind
      (lambda () #t)
      (lambda ()
        (for-each do-step chain)
        (make-trace (reverse steps)))
      (lambda ()
        ;; Never leave a holder behind (an exception, or a chain cut short).
        (for-each (lambda (sh) (stop-holder! (cdr sh))) holders)
        (set! holders '())
        (unless keep-dir (delete-tree dir))))))
