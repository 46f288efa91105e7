;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar core) -- the C core of instar-fuzz, from Scheme.
;;;
;;; Loads the compiled extension libguile-instar (from %instar-extension-dir,
;;; which INSTAR_EXTENSION_DIR overrides for the build tree) and adds the
;;; Scheme side of its contract: patch and violation records, hand-made
;;; plans, the instar-error condition accessors and documentation strings.
;;;
;;; Errors: the core's refusals raise (throw 'instar-error 'NAME "message"
;;; . DETAILS) with NAME the core's error symbol (shrink-needs-flag,
;;; not-staged, io-error, ...) and DETAILS an alist ((errno . N),
;;; (needs (kind index length) ...)) or a list holding the offending input.
;;; Wrong argument types and out-of-range numbers raise Guile's standard
;;; wrong-type-arg and out-of-range errors instead.

(define-module (instar core)
  #:use-module (instar config)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:export (;; planners
            plan-resize-raw plan-resize-qcow2 plan-resize-vhd
            plan-resize-vhdx plan-resize-vmdk
            ;; plans
            <plan> plan? plan-action plan-format plan-prealloc plan-total-file-size
            plan-new-virtual-size plan-old-virtual-size plan-prealloc-range
            plan-patch-count plan-patches plan-check make-plan
            ;; patches and violations
            make-patch patch? patch-kind patch-offset patch-length patch-payload
            violation? violation-invariant violation-patches violation-message
            ;; files
            image-create image-probe image-plan image-resize image-apply-plan
            ;; sizes, hashes, fuzz inputs
            parse-size parse-size-spec xxh3-64 xxh3-128 fuzz-decode
            ;; children (for (instar process))
            spawn-process-group
            ;; errors
            instar-error? instar-error-name instar-error-message
            instar-error-details))

(eval-when (expand load eval)
  (load-extension (string-append %instar-extension-dir "/libguile-instar")
                  "init_instar"))

;;; Records built from the extension's vectors.

(define-record-type <patch>
  (make-patch kind offset length payload)
  patch?
  (kind patch-kind)
  (offset patch-offset)
  (length patch-length)
  (payload patch-payload))

(define-record-type <violation>
  (make-violation invariant patches message)
  violation?
  (invariant violation-invariant)
  (patches violation-patches)
  (message violation-message))

(define (plan-patches plan)
  "The patches of PLAN in application order (prepare, commit, cleanup): a
list of patch records with kind (write append zero-fill), offset, length and
payload (a fresh bytevector, or #f for zero-fill)."
  (map (match-lambda (#(kind offset length payload)
                      (make-patch kind offset length payload)))
       (%plan-patches plan)))

(define (plan-check plan)
  "Check PLAN against the four plan invariants (1: at most 128 patches,
2: offset + length fits in 64 bits, 3: nothing ends beyond the final file
size, 4: no two write patches overlap).  A list of violation records
(invariant number, offending patch indices, message); empty when valid."
  (map (match-lambda (#(inv idx msg) (make-violation inv idx msg)))
       (%plan-check plan)))

(define (make-plan . args)
  "Make a plan by hand (for checker and printer tests): keywords #:format,
#:action (grow shrink noop), #:old-virtual-size, #:new-virtual-size,
#:total-file-size, #:prealloc-range (offset . length), #:prealloc (the
mode, default off) and #:patches, a list
of patch records (make-patch KIND OFFSET LENGTH PAYLOAD).  A write patch's
payload may be #f; when given its length must equal LENGTH."
  (define (patch->vector p)
    (if (patch? p)
        (vector (patch-kind p) (patch-offset p) (patch-length p) (patch-payload p))
        (scm-error 'wrong-type-arg "make-plan"
                   "Wrong type argument (expecting patch record for #:patches): ~S"
                   (list p) (list p))))
  (let loop ((rest args) (out '()))
    (match rest
      (() (apply %make-plan (reverse out)))
      ((#:patches (? list? ps) . more)
       (loop more (cons* (map patch->vector ps) #:patches out)))
      ((x . more) (loop more (cons x out))))))

;;; The instar-error condition, as seen through guard / with-exception-handler
;;; (catch handlers get the key and the list (NAME MESSAGE . DETAILS)).

(define (instar-error? obj)
  "True when OBJ is an exception raised by the core (key instar-error)."
  (and (exception? obj)
       (false-if-exception (eq? (exception-kind obj) 'instar-error))))

(define (instar-error-name exn)
  "The core's error symbol of EXN, e.g. shrink-needs-flag."
  (car (exception-args exn)))

(define (instar-error-message exn)
  "The human message of EXN."
  (cadr (exception-args exn)))

(define (instar-error-details exn)
  "The details of EXN: an alist such as ((errno . 2)) or ((needs ...)), or the
offending input."
  (cddr (exception-args exn)))

(set-exception-printer!
 'instar-error
 (lambda (port key args default-printer)
   (match args
     ((name message . details)
      (format port "instar error (~a): ~a" name message)
      (unless (null? details)
        (format port " ~s" details)))
     (_ (default-printer)))))

;;; Documentation for the primitives (,describe and procedure-documentation).

(define-syntax-rule (document! (proc doc) ...)
  (begin (set-procedure-property! proc 'documentation doc) ...))

(document!
 (plan-resize-raw
  "(plan-resize-raw #:current-file-size N #:new-size N [#:allow-shrink? #f]
[#:prealloc 'off]) -- plan a raw resize.  Raw is its bytes: the plan sets the
length (and zero-fills the first block of an empty file, as qemu-img does).
Returns a plan or raises instar-error (size-not-positive, shrink-needs-flag,
prealloc-not-grow, unsupported-prealloc, too-large, ...).")
 (plan-resize-qcow2
  "(plan-resize-qcow2 #:new-size N ...) -- plan a qcow2 resize.  Keywords
mirror struct instar_qcow2_resize_opts: #:current-file-size #:version
#:cluster-bits #:virtual-size #:l1-size #:l1-table-offset
#:refcount-table-offset #:refcount-table-clusters #:refcount-order
#:incompatible-features #:compatible-features #:autoclear-features
#:header-length #:nb-snapshots #:snapshots-offset #:has-bitmaps? and the
bytevector slices #:header #:l1 #:reftable; #:refblocks and #:l2-tables are
lists of (index . bytevector).  A missing table raises instar-error
not-staged with details ((needs (kind index length) ...)).")
 (plan-resize-vhd
  "(plan-resize-vhd #:new-size N ...) -- plan a VHD (vpc) resize.  Keywords:
#:current-file-size #:disk-type (fixed dynamic differencing) #:virtual-size
#:block-size #:max-table-entries #:bat-offset #:first-block-offset and the
bytevectors #:footer #:dyn-header #:bat.")
 (plan-resize-vhdx
  "(plan-resize-vhdx #:new-size N ...) -- plan a VHDX resize.  Keywords:
#:current-file-size #:virtual-size #:block-size #:logical-sector-size
#:leave-blocks-allocated? #:metadata-offset #:bat-offset #:bat-region-length,
the bytevectors #:header1 #:header2 #:region1 #:region2 #:metadata #:bat, and
the new header GUIDs #:file-write-guid #:data-write-guid (16-byte bytevectors,
default zeros: the planner is pure, so the caller supplies them).")
 (plan-resize-vmdk
  "(plan-resize-vmdk #:new-size N ...) -- plan a VMDK (monolithicSparse)
resize.  Keywords: #:current-file-size #:capacity-sectors #:grain-sectors
#:gtes-per-gt #:gd-offset-sectors #:rgd-offset-sectors
#:descriptor-offset-sectors #:descriptor-sectors #:new-cid (the descriptor's
new CID) and the bytevectors #:header #:descriptor #:gd #:rgd #:tail-gte (the
grain-table entry of the last grain, when the planner asks for it).  A
refusal carries the planner's one-line reason as its message.")
 (plan? "(plan? OBJ) -- true when OBJ is a plan.")
 (plan-action "(plan-action PLAN) -- grow, shrink or noop.")
 (plan-prealloc "(plan-prealloc PLAN) -- the preallocation mode PLAN was made for: off metadata falloc full.")
 (plan-format "(plan-format PLAN) -- raw qcow2 vpc vhdx vmdk, or #f for a hand-made plan.")
 (plan-total-file-size "(plan-total-file-size PLAN) -- the file length once every patch is applied.")
 (plan-new-virtual-size "(plan-new-virtual-size PLAN) -- the virtual size the format reports afterwards.")
 (plan-old-virtual-size "(plan-old-virtual-size PLAN) -- the virtual size before.")
 (plan-prealloc-range "(plan-prealloc-range PLAN) -- (offset . length) the host preallocates; length 0 when none.")
 (plan-patch-count "(plan-patch-count PLAN) -- the number of patches.")
 (image-create
  "(image-create PATH #:format 'raw #:size N-or-\"1G\" #:options '((\"cluster_size\" . \"65536\"))
#:prealloc 'off) -- create an image (truncating PATH) as qemu-img create would;
options are qemu-img's -o keys.  #t or instar-error (invalid-option,
unsupported-format, io-error, ...).")
 (image-probe "(image-probe PATH) -- the format of PATH from its content: raw qcow2 vpc vhdx vmdk.")
 (image-plan
  "(image-plan PATH SIZE-SPEC #:format #f #:shrink? #f #:prealloc 'off) -- plan
resizing PATH without touching it.  SIZE-SPEC: \"+1M\", \"-512\", \"2G\", a
non-negative integer (absolute) or (sign . amount).  #:format #f probes.")
 (image-resize
  "(image-resize PATH SIZE-SPEC #:format #f #:shrink? #f #:prealloc 'off) --
resize PATH as qemu-img resize would; #t or instar-error.  Runs outside Guile
mode (long preallocations do not block other threads).")
 (image-apply-plan
  "(image-apply-plan PATH PLAN #:limit #f #:prealloc MODE) -- apply PLAN to the
image at PATH: patches in order, then the final length, preallocation and
sync.  #:limit N applies only the first N patches and stops (a simulated
crash: nothing else is done).  #:prealloc defaults to the plan's own mode.
Refuses (invalid-argument) a plan that breaks an invariant or has write
patches without payload bytes.  Runs outside Guile mode.")
 (parse-size "(parse-size TEXT) -- a qemu-img size (\"1.5M\", \"0x200\") in bytes.")
 (parse-size-spec "(parse-size-spec TEXT) -- (absolute|plus|minus . bytes) for \"2G\", \"+1M\", \"-512\".")
 (xxh3-64 "(xxh3-64 BV-OR-STRING) -- XXH3 64-bit hash (strings as UTF-8) as an exact integer.")
 (xxh3-128 "(xxh3-128 BV-OR-STRING) -- XXH3 128-bit hash as one exact integer, high << 64 | low.")
 (spawn-process-group
  "(spawn-process-group ARGV IN OUT ERR) -- start ARGV (strings, the program's
path first, no PATH search) with the file descriptors IN, OUT, ERR as its
stdin, stdout and stderr, as the leader of a new process group; returns the
pid, which is also the group id.  An exec failure raises system-error with
the child's errno.")
 (fuzz-decode
  "(fuzz-decode BV) -- the 32-byte fuzz header (manual: Coverage fuzzing) as an alist:
target, format-byte, flags, allow-shrink?, extended-l2?, lazy-refcounts?,
raw-slices?, prealloc, refcount-selector, refcount-bits, subformat, unit-size,
current-virtual-size, new-virtual-size, current-file-size, pool-length.
Raises instar-error parse-failed below 32 bytes."))

(document!
 (plan-patches (procedure-documentation plan-patches))
 (make-patch "(make-patch KIND OFFSET LENGTH PAYLOAD) -- a patch record (for make-plan).")
 (patch? "(patch? OBJ) -- true when OBJ is a patch record.")
 (patch-kind "(patch-kind PATCH) -- write, append or zero-fill.")
 (patch-offset "(patch-offset PATCH) -- the file offset the patch starts at.")
 (patch-length "(patch-length PATCH) -- the number of bytes the patch covers.")
 (patch-payload "(patch-payload PATCH) -- the bytes written (a bytevector), or #f.")
 (violation? "(violation? OBJ) -- true when OBJ is a violation record.")
 (violation-invariant "(violation-invariant V) -- the broken invariant, 1 to 4.")
 (violation-patches "(violation-patches V) -- the indices of the offending patches.")
 (violation-message "(violation-message V) -- a one-line description."))
