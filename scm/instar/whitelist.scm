;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar whitelist) -- known, documented divergences, as data.
;;;
;;; A rule is an alist:
;;;   id         a stable name
;;;   reason     why the difference is deliberate or harmless
;;;   reference  where it is documented
;;;   when       a condition over the case (see `case-holds?')
;;;   explains   diff keys it covers ("oracle:field"; a trailing * is a
;;;              prefix match), exit-class keys included
;;; A divergence whose every diff is explained by a rule whose condition
;;; holds is `known', counted per rule; anything left over is a finding.
;;; Ship rules only for real, documented differences.

(define-module (instar whitelist)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (instar pickers)
  #:use-module (instar oracles)
  #:export (default-rules
            refusal-rule
            resize-refusal-rules
            reader-rules
            rule-id
            case-holds?
            apply-whitelist
            make-rule-counter
            count-rule-hits!
            rule-counts
            never-matched))

;;; Expected refusals.  Every refusal by the engine is a `refusal:FAMILY'
;;; difference (see (instar oracles)); only a rule naming its family
;;; excuses it, so a refusal outside these families -- of a case the
;;; manual lists as supported -- is a finding, and an engine that refuses
;;; everything cannot pass.  Hits per rule are counted like any rule's.

(define (refusal-rule family reason reference)
  "A rule expecting the engine to refuse cases of FAMILY."
  `(("id" . ,(string-append "refuses-" family))
    ("reason" . ,reason)
    ("reference" . ,reference)
    ("when" . (always))
    ("explains" . (,(string-append "refusal:" family)))))

(define resize-refusal-rules
  (list
   (refusal-rule "shrink-without-flag"
                 "A smaller size without --shrink would lose data silently; qemu-img refuses it (`Use the --shrink option')."
                 "doc/fmt-qcow2.texi (Shrinking); doc/formats.texi (raw)")
   (refusal-rule "prealloc-not-growing"
                 "Preallocation other than off only applies to a grown range; on a shrink or same-size resize qemu-img refuses it (`Preallocation can only be used for growing images')."
                 "doc/formats.texi (raw); doc/fmt-vhd.texi, doc/fmt-vhdx.texi, doc/fmt-vmdk.texi (Refused)")
   (refusal-rule "unaligned"
                 "qcow2 (and VHDX) sizes must be a multiple of 512 (`The new size must be a multiple of 512')."
                 "doc/fmt-qcow2.texi (Refused, with the image untouched); doc/fmt-vhdx.texi (Refused)")
   (refusal-rule "past-limit"
                 "Beyond the format's limit (qcow2: 4 Mi L1 entries; VHD 2040 GiB; VHDX 64 TiB; VMDK 32-bit grain numbers) the image cannot describe the size."
                 "doc/fmt-qcow2.texi (Growing); doc/fmt-vhd.texi, doc/fmt-vhdx.texi, doc/fmt-vmdk.texi (Refused)")
   (refusal-rule "non-positive"
                 "A result of zero or less, or one that overflows 64-bit arithmetic, is no size (`New image size must be positive')."
                 "doc/instar-fuzz.texi (Size specifications)")
   (refusal-rule "bad-spec"
                 "A size qemu_strtosz cannot read (`Parameter 'size' expects a non-negative number below 2^64')."
                 "doc/instar-fuzz.texi (Size specifications)")
   (refusal-rule "corrupt"
                 "A qcow2 image with the corrupt bit set cannot be opened read-write."
                 "doc/fmt-qcow2.texi (Refused, with the image untouched)")
   (refusal-rule "v2-snapshots"
                 "qemu cannot resize a compat 0.10 qcow2 image with internal snapshots, even to the same size."
                 "doc/fmt-qcow2.texi (Refused, with the image untouched)")
   (refusal-rule "prealloc-unsupported"
                 "A preallocation mode the format does not take (raw `metadata'; any mode on VHD, VHDX and VMDK resizes)."
                 "doc/formats.texi (raw); doc/fmt-vhd.texi, doc/fmt-vhdx.texi, doc/fmt-vmdk.texi")
   (refusal-rule "v2-zero"
                 "A compat 0.10 image has no zero flag: growing it over a longer backing file (preallocation off or metadata) would show the backing file's data, and qemu-img fails (`Failed to zero out new clusters: Operation not supported')."
                 "doc/fmt-qcow2.texi (Backing files)")
   (refusal-rule "held"
                 "Another process holds the image open (qemu's image locks): a resize must be refused and the file left as it was."
                 "doc/differential.texi (Cases and chains)")
   (refusal-rule "bad-create-option"
                 "qcow2 create options the format refuses: extended_l2 below 16 KiB clusters or on compat 0.10, refcount_bits not a power of two up to 64 (or not 16 on 0.10), lazy_refcounts on 0.10, unknown compat levels, bad cluster sizes."
                 "doc/fmt-qcow2-create.texi")))

(define default-rules
  `((("id" . "qcow2-stale-tail-after-unaligned-shrink")
     ("reason" . "qemu keeps the whole last cluster when a qcow2 image shrinks to a size that is not cluster aligned, and the old bytes past the new end read back after a later grow; instar zeroes that tail on purpose so no stale data resurfaces.")
     ("reference" . "doc/fmt-qcow2.texi (shrink); doc/differential.texi")
     ("when" . (and (format "qcow2") (unaligned-shrink-then-grow)))
     ("explains" . ("data:compare")))
    (("id" . "qcow2-dirty-refused")
     ("reason" . "A qcow2 image with the dirty bit set has refcounts that cannot be trusted: qemu repairs them and resizes, instar refuses and asks for `qemu-img check -r all' first.")
     ("reference" . "doc/fmt-qcow2.texi (Refused, with the image untouched)")
     ("when" . (resize-family "dirty"))
     ("explains" . ("exit-class:resize:error/ok")))
    (("id" . "qcow2-v2-zero-qemu-leaves-changes")
     ("reason" . "qemu-img fails a compat 0.10 grow over a longer backing file (preallocation off or metadata) only after it has grown the L1 table and preallocated, so the file it refuses to resize has changed; instar refuses before writing anything and leaves the file untouched.")
     ("reference" . "doc/fmt-qcow2.texi (Backing files)")
     ("when" . (resize-family "v2-zero"))
     ("explains" . ("untouched:file")))
    ,@resize-refusal-rules))

;; Documented limits of the independent readers of (instar readers): each
;; is a case where the reader also mis-reads qemu-img's own image
;; (tests/readers-limits.sh shows it on one), so no rule can hide a bug of
;; ours.
(define reader-rules
  '((("id" . "libvhdi-original-size-is-disk-size")
     ("reason" . "libvhdi (python3-libvhdi, vhdiinfo 20210425) takes a VHD footer's Original Size as the disk size, although the specification defines Original Size as the size at creation and Current Size as the size after an expansion; after a grow it reports the old size and reads nothing past it.  qemu, 7-Zip and the specification read Current Size; instar keeps Original Size as the creation size on a grow.")
     ("reference" . "doc/fmt-vhd.texi (Independent readers); tests/readers-limits.sh shows libvhdi mis-reading qemu-img's own image whose Original Size is below its Current Size")
     ("when" . (and (format "vpc") (grows)))
     ("explains" . ("reader:libvhdi:size" "reader:libvhdi:zero")))
    (("id" . "7zip-vhdx-odd-sector-count")
     ("reason" . "7-Zip (7zz 22.01+really26.02) refuses a VHDX whose virtual size is an odd number of 512-byte sectors ('Cannot open the file as [VHDX] archive'), qemu-img's own images of that size included.")
     ("reference" . "doc/fmt-vhdx.texi (Independent readers); tests/readers-limits.sh shows 7-Zip refusing qemu-img's own 1 MiB + 512 VHDX")
     ("when" . (and (format "vhdx") (end-odd-sectors)))
     ("explains" . ("reader:7zip:open")))))

(define (rule-id r)
  "The id of whitelist rule R."
  (assoc-ref r "id"))

(define (cluster-size case)
  (or (parse-size-string (or (assoc-ref (assoc-ref case "options") "cluster_size") "65536"))
      65536))

(define (unaligned-shrink-then-grow? case)
  "A shrink to a size that is not a multiple of the cluster size, a later
grow past it, and pattern bytes in the cut part of the kept cluster."
  (let* ((cs (cluster-size case))
         (ends (case-end-bytes case))
         (start (parse-size-string (assoc-ref case "size"))))
    (let loop ((cur start) (ends ends))
      (match ends
        ((or () (_)) #f)
        ((e next . rest)
         (or (and (< 0 e cur) (not (zero? (modulo e cs))) (> next e)
                  (let ((kept-end (min cur (* cs (quotient (+ e cs -1) cs)))))
                    (any (lambda (p)
                           (let ((off (assoc-ref p "offset"))
                                 (len (assoc-ref p "length")))
                             (and (< off kept-end) (> (+ off len) e))))
                         (vector->list (assoc-ref case "patterns")))))
             (loop (if (> e 0) e cur) (cons next rest))))))))

(define (case-holds? cnd case)
  "Whether a rule condition CND holds for CASE: (always), (format F),
(op O), (start-mode M), (option K V), (resize-family F), (grows),
(end-odd-sectors), (unaligned-shrink-then-grow), (not C), (and C ...),
(or C ...)."
  (match cnd
    (('always) #t)
    (('format f) (equal? (assoc-ref case "format") f))
    (('op o) (equal? (assoc-ref case "op") o))
    (('start-mode m) (equal? (assoc-ref case "start-mode") m))
    (('option k v) (equal? (assoc-ref (assoc-ref case "options") k) v))
    (('unaligned-shrink-then-grow) (unaligned-shrink-then-grow? case))
    (('resize-family f)
     (any (lambda (r) (equal? (assoc-ref r "family") f))
          (vector->list (or (assoc-ref case "resizes") #()))))
    ;; The last resize ends above the start size / at an odd sector count.
    (('grows) (let ((ends (case-end-bytes case))
                    (start (parse-size-string (assoc-ref case "size"))))
                (and (pair? ends) start (> (last ends) start))))
    (('end-odd-sectors) (let ((ends (case-end-bytes case)))
                          (and (pair? ends) (odd? (quotient (+ (last ends) 511) 512)))))
    (('not c) (not (case-holds? c case)))
    (('and . cs) (every (lambda (c) (case-holds? c case)) cs))
    (('or . cs) (any (lambda (c) (case-holds? c case)) cs))))

(define (key-matches? pattern key)
  (if (string-suffix? "*" pattern)
      (string-prefix? (substring pattern 0 (- (string-length pattern) 1)) key)
      (string=? pattern key)))

(define (apply-whitelist rules case diffs)
  "Returns (values UNEXPLAINED-DIFFS RULE-IDS-THAT-EXPLAINED-SOMETHING)."
  (let ((live (filter (lambda (r) (case-holds? (assoc-ref r "when") case)) rules)))
    (let loop ((ds diffs) (left '()) (hits '()))
      (match ds
        (() (values (reverse left) (reverse (delete-duplicates hits))))
        ((d . rest)
         (let ((r (find (lambda (r)
                          (any (lambda (p) (key-matches? p (diff-key d)))
                               (assoc-ref r "explains")))
                        live)))
           (if r
               (loop rest left (cons (rule-id r) hits))
               (loop rest (cons d left) hits))))))))

;;; Hit counting (the runner counts in iteration order, single-threaded).

(define (make-rule-counter rules)
  "A hit counter for RULES, every rule at zero."
  (map (lambda (r) (cons (rule-id r) 0)) rules))

(define (count-rule-hits! counter ids)
  "Count one hit in COUNTER for each rule id in IDS."
  (for-each (lambda (id)
              (let ((cell (assoc id counter)))
                (when cell (set-cdr! cell (+ 1 (cdr cell))))))
            ids))

(define (rule-counts counter)
  "COUNTER as an alist (RULE-ID . HITS), in rule order."
  counter)

(define (never-matched counter)
  "The ids of the rules COUNTER saw no hit for."
  (filter-map (lambda (c) (and (zero? (cdr c)) (car c))) counter))
